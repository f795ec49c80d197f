"""deploy/cloud/gcloud.py: what the set-up runs (gcloud and this repository's programs) never sees
the local stack's emulator variables, so a sourced .devstack/env cannot divert it."""

from __future__ import annotations

import sys

import pytest

from deploy.cloud.gcloud import Command, Gcloud, SetupError

SEEN_ANY = "any(k.endswith('_EMULATOR_HOST') for k in __import__('os').environ)"
SEEN = "import os; print(sorted(k for k in os.environ if k.endswith('_EMULATOR_HOST')))"


@pytest.fixture
def sourced_devstack_env(monkeypatch):
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("KEEP_ME", "1")


def test_gcloud_commands_run_without_the_emulator_variables(sourced_devstack_env):
    gcloud = Gcloud("my-ib-project", dry_run=False, say=lambda _: None, binary=sys.executable)
    assert gcloud.read("-c", SEEN) == "[]\n"
    assert gcloud.read("-c", "import os; print(os.environ['KEEP_ME'])") == "1\n"  # the rest stays


def test_programs_run_without_the_emulator_variables(sourced_devstack_env):
    gcloud = Gcloud("my-ib-project", dry_run=False, say=lambda _: None)
    gcloud.run(
        Command.program(sys.executable, "-c", f"import sys; sys.exit(3 if {SEEN_ANY} else 0)")
    )
    with pytest.raises(SetupError, match="exit 3"):  # a program's failure does count
        gcloud.run(Command.program(sys.executable, "-c", "import sys; sys.exit(3)"))
