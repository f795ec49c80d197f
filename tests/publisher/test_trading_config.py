"""Trading config as code: `python -m publisher config apply|show` against the local stack's
Firestore, and the file's checks (no Firestore needed)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy.processes import free_port
from deploy.stack import ROOT
from publisher.trading_config import ConfigFileError, difference, load_file

SHIPPED = yaml.safe_load((ROOT / "config.yaml").read_text())


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "publisher", "config", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, **env},
    )


def written(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def config_docs(db):
    """The stack's config documents, put back afterwards."""
    docs = db.collection("config")
    saved = {ref.id: ref.get().to_dict() for ref in docs.list_documents()}
    yield docs
    for ref in docs.list_documents():
        ref.delete()
    for name, data in saved.items():
        docs.document(name).set(data or {})


def test_the_shipped_file_is_valid():
    sections = load_file(ROOT / "config.yaml")
    assert set(sections) == {"common", "paper", "live"}
    assert sections["common"]["riskLimits"]["maxOrdersPerIntent"] == 20


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda d: d["common"]["riskLimits"].update(maxNotionalPerOrder="lots"),
            "common.riskLimits",
        ),
        (lambda d: d["live"].update(riskLimit={}), "live: unknown key 'riskLimit'"),
        (lambda d: d.update(staging={}), "unknown section 'staging'"),
        (
            lambda d: d["common"]["exposure"]["strategies"].update(moonshot=0.1),
            "no strategy 'moonshot' is registered",
        ),
        (
            lambda d: d["paper"].update(marketData={"instruments": ["NOPE"]}),
            "the paper config (common + paper): config.marketData.instruments[0]",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path, change, words):
    data = copy.deepcopy(SHIPPED)
    change(data)
    with pytest.raises(ConfigFileError, match=re.escape(words)):
        load_file(written(tmp_path, data))


def test_a_bad_file_exits_3_before_any_connection(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("common: [not, a, mapping]\n")
    done = cli(
        {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}"}, "apply", "--file", str(path)
    )
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_firestore_exits_4_with_one_line(tmp_path):
    env = {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}", "PUBSUB_EMULATOR_HOST": ""}
    done = cli(env, "show")
    assert done.returncode == 4, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_apply_prints_the_difference_then_writes_and_show_reads_it_back(
    stack, config_docs, tmp_path
):
    config_docs.document("common").set({"exposure": {"overall": 0.1}, "stale": 1})
    config_docs.document("paper").set({})
    config_docs.document("live").delete()
    data = copy.deepcopy(SHIPPED)
    data["paper"] = {"riskLimits": {"maxOrdersPerIntent": 5}}
    path = written(tmp_path, data)
    env = stack.client_env()
    dry = cli(env, "apply", "--file", str(path), "--mode", "paper", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "config/common:" in dry.stdout and "~ exposure.overall: 0.1 -> 0.5" in dry.stdout
    assert "- stale: 1" in dry.stdout and "+ riskLimits.maxOrdersPerIntent: 5" in dry.stdout
    assert "dry run: 2 document(s) would change" in dry.stdout
    assert config_docs.document("common").get().to_dict() == {
        "exposure": {"overall": 0.1},
        "stale": 1,
    }
    done = cli(env, "apply", "--file", str(path), "--mode", "paper")
    assert done.returncode == 0, done.stderr
    assert config_docs.document("common").get().to_dict() == SHIPPED["common"]
    assert config_docs.document("paper").get().to_dict() == data["paper"]
    assert not config_docs.document("live").get().exists  # only the mode asked for
    again = cli(env, "apply", "--file", str(path), "--mode", "paper")
    assert "config/common: unchanged" in again.stdout and "0 document(s) changed" in again.stdout
    shown = cli(env, "show", "--file", str(path), "--mode", "paper")
    assert shown.returncode == 0, shown.stderr
    effective = yaml.safe_load(shown.stdout)
    assert effective["riskLimits"]["maxOrdersPerIntent"] == 5
    assert (
        effective["riskLimits"]["maxNotionalPerOrder"]
        == SHIPPED["common"]["riskLimits"]["maxNotionalPerOrder"]
    )
    assert "# the same as config.yaml" in shown.stdout
    everything = cli(env, "apply", "--file", str(path))  # no --mode: every mode in the file
    assert "config/live:" in everything.stdout
    assert config_docs.document("live").get().to_dict() == SHIPPED["live"]


SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
DOCS = st.recursive(
    st.dictionaries(st.text("abc", min_size=1, max_size=2), SCALARS, max_size=3),
    lambda inner: st.dictionaries(st.text("abc", min_size=1, max_size=2), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(DOCS, DOCS)
def test_the_difference_is_empty_exactly_when_nothing_changes(current, wanted):
    lines = difference(current, wanted)
    assert (lines == []) == (_flat(current) == _flat(wanted))
    assert all(line[:2] in ("+ ", "- ", "~ ") for line in lines)


def _flat(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_a_real_project_is_never_written_through_the_emulators(tmp_path):
    """--project with a sourced .devstack/env: refused before anything is read or written."""
    emulators = {
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
        "GOOGLE_CLOUD_PROJECT": "local-ib",
    }
    for action in ("apply", "show"):
        done = cli(emulators, action, "--project", "my-ib-project")
        assert done.returncode == 3, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --project my-ib-project, but ")
        assert "`unset PUBSUB_EMULATOR_HOST FIRESTORE_EMULATOR_HOST`" in lines[0]
        assert done.stdout == ""
    # the local stack's own project is the stack: let through (to the unreachable emulator here)
    own = cli(emulators, "show", "--project", "local-ib")
    assert own.returncode == 4 and "not answering" in own.stderr, own.stderr
