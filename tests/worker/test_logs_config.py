"""Log lines and settings."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert render("IbLoginId=someone IbPassword=pw")["message"] == "IbLoginId=*** IbPassword=***"
    with logs.context(intentId="for S3CR3T-VALUE-FOR-TEST"):
        assert "S3CR3T" not in json.dumps(render("x"))


@pytest.mark.parametrize(
    "echo", [str.upper, str.lower, str.swapcase, str.title, str.casefold], ids=lambda f: f.__name__
)
def test_a_case_changed_echo_is_masked(echo):
    logs.register_secret("Mixed-Case-Canary-42")
    logs.register_secret("Straße-Canary")  # upper() makes it longer: STRASSE-CANARY
    for secret in ("Mixed-Case-Canary-42", "Straße-Canary"):
        message = render("typed %s into the dialog", echo(secret))["message"]
        assert message == "typed *** into the dialog"


@pytest.mark.parametrize("short", ["", "a", "ab"])
def test_a_secret_too_short_to_mask_is_refused(short):
    with pytest.raises(ValueError, match="at least 3 characters"):
        logs.register_secret(short)
    assert render("a cab and a bar")["message"] == "a cab and a bar"


_SAFE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="*"))


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="*"), min_size=3),
    before=_SAFE_TEXT,
    after=_SAFE_TEXT,
    echo=st.sampled_from([str, str.upper, str.lower, str.swapcase, str.casefold]),
)
def test_no_registered_secret_survives_in_any_case(secret, before, after, echo):
    logs.register_secret(secret)
    shown = echo(secret)
    assert shown not in logs.redact(before + shown + after)


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
        ({"LEASE_SECONDS": "3"}, "LEASE_SECONDS must be >= 6"),
    ],
)
def test_bad_settings_are_named(env, words):
    with pytest.raises(ConfigError, match=words):
        Settings.from_env(env)


def test_the_credential_scan_knows_every_test_password():
    """conftest scans the whole run's output for TEST_PASSWORDS and TEST_USERIDS; a credential a
    test uses but the scan does not know would leak unnoticed."""
    import re
    from pathlib import Path

    from tests.conftest import TEST_PASSWORDS, TEST_USERIDS

    tests = Path(__file__).resolve().parents[1]
    passwords, userids = set(), set()
    for path in tests.rglob("*.py"):
        if path.name == "test_logs_config.py":
            continue  # this file, whose patterns would match themselves
        text = path.read_text()
        passwords |= set(re.findall(r'"password": "([^"]{8,})"', text))
        passwords |= set(re.findall(r'FAKE_PASSWORD = "([^"]+)"', text))
        passwords |= set(re.findall(r'CANARY_PASSWORD = "([^"]+)"', text))
        userids |= set(re.findall(r'"userid": "([^"]{5,})"', text))
        userids |= set(re.findall(r'CANARY_USERID = "([^"]+)"', text))
    # A value with an escape (a line break, a control character) is refused before it can be
    # used (tests/deploy/cloud/test_credentials.py shows it), and a masked one is no value: no
    # leak to scan for.
    passwords = {p for p in passwords if "\\" not in p and set(p) != {"•"}}
    userids = {u for u in userids if "\\" not in u and set(u) != {"•"}}
    assert passwords and passwords <= set(TEST_PASSWORDS)
    assert userids and userids <= set(TEST_USERIDS)
