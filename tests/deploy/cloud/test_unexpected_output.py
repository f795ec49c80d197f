"""What gcloud prints that the set-up does not expect (issue 25): a bare number for a `describe`,
an object for a `list`, fields of another type. `deploy/setup.sh` stops with one line naming the
command and what it printed, never a Python traceback. gcloud is replaced in-process by answers
the test chooses (a `describe`/`list`/`get-iam-policy` read), every change succeeding."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.cloud import cli
from deploy.cloud.gcloud import Gcloud

ARGS = ["--project", "demo-proj", "--region", "europe-west6", "--skip-schedules", "--skip-config"]
NOT_FOUND = object()


def answering(answer):
    """A Gcloud whose reads print `answer(argv)` (NOT_FOUND: the resource does not exist)."""

    class Answering(Gcloud):
        def _call(self, argv, stdin, timeout):
            words = [a for a in argv[1:] if not a.startswith("-")]
            read = any(w in ("describe", "list", "get-iam-policy") for w in words)
            printed = answer(words) if read else ""
            if printed is NOT_FOUND:
                return subprocess.CompletedProcess(argv, 1, "", "ERROR: NOT_FOUND")
            return subprocess.CompletedProcess(argv, 0, printed, "")

        def _program(self, argv):
            raise AssertionError(
                "no program of this repository runs with --skip-schedules --skip-config"
            )

    return Answering


def run_setup(monkeypatch, capsys, answer) -> tuple[int, list[str]]:
    monkeypatch.setattr(cli, "Gcloud", answering(answer))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no credentials given
    code = cli.main(ARGS)
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("printed", "what"),
    [
        ("123456789012", "not a JSON object"),
        ('"123456789012"', "not a JSON object"),
        ("[]", "not a JSON object"),
        ("projectNumber: 1", "no JSON"),
        ("[" * 5000, "no JSON"),
    ],
)
def test_a_project_describe_that_prints_no_object_is_one_line(
    monkeypatch, capsys, printed, what
) -> None:
    code, err = run_setup(monkeypatch, capsys, lambda words: printed)
    assert code == 1
    shown = repr(printed if len(printed) <= 120 else printed[:117] + "...")
    assert err[0] == (
        f"setup.sh: error: `gcloud projects describe demo-proj --format=json` printed {shown}, "
        f"{what}: is gcloud up to date?"
    )
    assert err[1:] == ["Everything done so far is kept; run it again once fixed."]


def test_a_list_that_prints_an_object_is_one_line(monkeypatch, capsys) -> None:
    def answer(words):
        if words[:2] == ["projects", "describe"]:
            return json.dumps({"projectNumber": "123456789012"})
        return '{"name": "x"}' if "list" in words else NOT_FOUND

    code, err = run_setup(monkeypatch, capsys, answer)
    assert code == 1
    assert err[0].startswith("setup.sh: error: `gcloud services list --enabled --format=json` ")
    assert err[0].endswith(
        """printed '{"name": "x"}', not a JSON list of objects: is gcloud up to date?"""
    )


def test_a_field_of_another_type_names_the_command(monkeypatch, capsys) -> None:
    def answer(words):
        if words[:2] == ["projects", "describe"]:
            return json.dumps({"projectNumber": "123456789012"})
        if words[:2] == ["services", "list"]:
            return json.dumps([{"config": "not an object"}])
        return NOT_FOUND

    code, err = run_setup(monkeypatch, capsys, answer)
    assert code == 1
    assert err[0].startswith(
        "setup.sh: error: `gcloud services list --enabled --format=json` printed "
        """'[{"config": "not an object"}]', not in the expected form (AttributeError("""
    )
    assert len(err) == 2


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
SHAPES = st.one_of(
    st.just(NOT_FOUND),
    st.text(max_size=20),
    JSON.map(json.dumps),
    st.dictionaries(
        st.sampled_from(
            ["projectNumber", "config", "name", "transport", "metadata", "fields", "bindings"]
        ),
        JSON,
    ).map(json.dumps),
    st.lists(
        st.dictionaries(st.sampled_from(["config", "name", "fields", "fieldPath"]), JSON),
        max_size=3,
    ).map(json.dumps),
)


@given(st.data())
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_whatever_gcloud_prints_the_set_up_ends_in_a_line_never_a_traceback(
    monkeypatch, capsys, data
) -> None:
    def answer(words):
        if words[:2] == ["projects", "describe"] and data.draw(st.booleans()):
            return json.dumps({"projectNumber": "123456789012"})  # to get further, often
        return data.draw(SHAPES)

    code, err = run_setup(monkeypatch, capsys, answer)
    assert code in (0, 1)
    if code == 1:
        assert err[0].startswith("setup.sh: error: ")
        assert err[1:] == ["Everything done so far is kept; run it again once fixed."]
