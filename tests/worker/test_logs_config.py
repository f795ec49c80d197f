"""Log lines and settings."""

from __future__ import annotations

import json
import logging

import pytest

from worker import logs
from worker.exceptions import ConfigError
from worker.settings import Settings


def render(message: str, *args: object, **fields: object) -> dict:
    record = logging.LogRecord("worker", logging.WARNING, __file__, 1, message, args, None)
    record.fields = fields
    return json.loads(logs.JsonFormatter().format(record))


def test_json_line_with_context_and_trace():
    with logs.context(intentId="i-1", **{"logging.googleapis.com/trace": "projects/p/traces/t"}):
        line = render("hello %s", "world")
    assert line["severity"] == "WARNING"
    assert line["message"] == "hello world"
    assert line["intentId"] == "i-1"
    assert line["logging.googleapis.com/trace"] == "projects/p/traces/t"
    assert "intentId" not in render("outside")


def test_secrets_never_reach_a_line():
    logs.register_secret("s3cr3t-value-for-test")
    line = render("login with %s failed", "s3cr3t-value-for-test", detail="s3cr3t-value-for-test")
    assert "s3cr3t" not in json.dumps(line)
    assert "password=***" in render("password=hunter2 user=x")["message"]
    assert '"password": ***' in render('{"password": "abc"}')["message"]


def test_trace_field():
    assert logs.trace_field("105445aa7843bc8bf206b12000100000/1;o=1", "proj") == (
        "projects/proj/traces/105445aa7843bc8bf206b12000100000"
    )
    assert logs.trace_field(None, "proj") is None
    assert logs.trace_field("abc/1", None) is None


def test_settings_from_env():
    s = Settings.from_env({"TRADING_MODE": "LIVE", "MAX_ATTEMPTS": "3", "K_SERVICE": "ib-live"})
    assert (s.trading_mode, s.max_attempts, s.service) == ("live", 3, "ib-live")
    assert Settings.from_env({}).intent_deadline_seconds == 480


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TRADING_MODE": "demo"}, "TRADING_MODE must be 'paper' or 'live'"),
        ({"MAX_ATTEMPTS": "many"}, "MAX_ATTEMPTS must be an integer"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS must be >= 1"),
        ({"FIRESTORE_TIMEOUT_SECONDS": "-1"}, "must be > 0"),
        ({"INTENT_DEADLINE_SECONDS": "600"}, r"LEASE_SECONDS \(600\) must be at least"),
    ],
)
def test_bad_settings_are_named(env, words):
    with pytest.raises(ConfigError, match=words):
        Settings.from_env(env)


def test_the_credential_scan_knows_every_test_password():
    """conftest scans the whole run's output for TEST_PASSWORDS; a password a test uses but the
    scan does not know would leak unnoticed."""
    import re
    from pathlib import Path

    from tests.conftest import TEST_PASSWORDS

    tests = Path(__file__).resolve().parents[1]
    used = set()
    for path in tests.rglob("*.py"):
        if path.name == "test_logs_config.py":
            continue  # this file, whose patterns would match themselves
        text = path.read_text()
        used |= set(re.findall(r'"password": "([^"]{8,})"', text))
        used |= set(re.findall(r'FAKE_PASSWORD = "([^"]+)"', text))
    assert used and used <= set(TEST_PASSWORDS)
