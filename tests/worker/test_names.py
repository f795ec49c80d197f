"""worker/names.py: the one source of deployment names, and its `--shell` output for builds."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker import names

ROOT = Path(__file__).resolve().parents[2]
PER_MODE = (
    names.service,
    names.push_subscription,
    names.dead_letter_subscription,
    names.trigger,
    names.worker_account,
    names.invoker_account,
    names.credentials_secret,
)


def test_each_mode_has_its_own_names_and_no_name_is_shared_by_two_things():
    made = [f(mode) for f in PER_MODE for mode in names.TRADING_MODES]
    fixed = [
        names.INTENTS_TOPIC,
        names.RESULTS_TOPIC,
        names.DEAD_LETTER_TOPIC,
        names.DEAD_LETTER_KEEP_SUBSCRIPTION,
        names.DASHBOARD_SERVICE,
    ]
    assert len(set(made + fixed)) == len(made + fixed)
    assert names.service("paper") == "ib-paper"
    assert names.dead_letter_subscription("live") == "worker-dead-letter-live"
    assert names.credentials_secret("live") == "ib-credentials-live"


@given(st.text(max_size=20))
def test_an_unknown_mode_is_refused_by_every_name(mode):
    if mode in names.TRADING_MODES:
        return
    for f in PER_MODE:
        with pytest.raises(ValueError, match="trading mode"):
            f(mode)


def test_the_deterministic_service_url():
    url = names.service_url("ib-paper", "123456789012", "europe-west6")
    assert url == "https://ib-paper-123456789012.europe-west6.run.app"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "worker.names", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )


def test_shell_output_is_what_bash_reads_back():
    done = run(
        "--shell", "--mode", "live", "--project", "my-ib-project", "--region", "europe-west6"
    )
    assert done.returncode == 0, done.stderr
    script = done.stdout + 'printf "%s\\n" "$SERVICE" "$WORKER_SA" "$WORKER_IMAGE" "$SECRET"\n'
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert shown.stdout.splitlines() == [
        "ib-live",
        "ib-worker-live@my-ib-project.iam.gserviceaccount.com",
        "europe-west6-docker.pkg.dev/my-ib-project/ib-worker/ib-worker",
        "ib-credentials-live",
    ]
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        assert re.fullmatch(r"[A-Z_]+", key) and shlex.split(value) == [shlex.split(value)[0]]


@pytest.mark.parametrize(
    "args",
    [
        ("--mode", "demo", "--project", "my-ib-project", "--region", "europe-west6"),
        ("--mode", "paper", "--project", "x; rm -rf /", "--region", "europe-west6"),
        ("--mode", "paper", "--project", "my-ib-project", "--region", "$(reboot)"),
        (
            "--mode",
            "paper",
            "--project",
            "my-ib-project",
            "--region",
            "europe-west6",
            "--repository",
            "A B",
        ),
    ],
)
def test_bad_values_are_refused_with_one_line(args):
    done = run(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


@given(st.text(max_size=40))
def test_patterns_mean_the_same_in_python_and_bash(value):
    """cloudbuild.yaml checks values with bash's =~ and the same patterns as names.py."""
    for pattern in (names.PROJECT_PATTERN, names.REGION_PATTERN, names.REPOSITORY_PATTERN):
        if "\x00" in value:
            continue
        python = re.fullmatch(pattern, value) is not None
        bash = (
            subprocess.run(
                ["bash", "-c", '[[ "$1" =~ $2 ]]', "-", value, pattern], timeout=10
            ).returncode
            == 0
        )
        assert python == bash, (pattern, value)
