"""deploy/cloud/credentials.py: checked, built with json.dumps, never shown in an error."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.cloud import credentials
from deploy.cloud.gcloud import InputError

PASSWORD = "FIXTURE-NOT-A-SECRET-7f3a"


def test_valid_credentials_come_back_as_canonical_json():
    text = '  {"password": "p\\"w\\\\x", "userid": "me"}\n'
    assert json.loads(credentials.parse(text)) == {"userid": "me", "password": 'p"w\\x'}
    assert credentials.parse("") is None and credentials.parse(" \n") is None


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[]",
        '{"userid": "me"}',
        '{"userid": "me", "password": "x", "otp": "1"}',
        '{"userid": "", "password": "x"}',
        '{"userid": "me", "password": 5}',
        '{"userid": "me", "password": "a\\nTrustedTwsApiClientIPs=0.0.0.0/0"}',
        '{"userid": "me\\u0000", "password": "x"}',
        '{"userid": "me", "password": "x\\u007f"}',
    ],
)
def test_bad_credentials_are_refused(value):
    with pytest.raises(InputError, match="credentials"):
        credentials.parse(value)


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_an_error_never_repeats_the_values(userid, password):
    text = json.dumps({"userid": userid, "password": password})
    try:
        out = credentials.parse(text)
    except InputError as exc:
        message = str(exc)
        for value in (userid, password):
            if len(value.strip()) > 3:
                assert value not in message
        return
    assert json.loads(out) == {"userid": userid, "password": password}
    assert all(ord(c) >= 32 and ord(c) != 127 for c in userid + password)


def test_the_prompt_asks_the_password_without_echo_and_builds_json():
    asked = []

    def ask(text):
        asked.append(("echo", text))
        return "fixture-user"

    def ask_secret(text):
        asked.append(("hidden", text))
        return PASSWORD

    made = credentials.prompt("live", ask, ask_secret)
    assert json.loads(made) == {"userid": "fixture-user", "password": PASSWORD}
    assert [kind for kind, _ in asked] == ["echo", "hidden"]
    assert credentials.prompt("live", lambda _t: "", ask_secret) is None


def test_standard_input_that_is_not_a_terminal_is_read_whole():
    stdin = io.StringIO(json.dumps({"userid": "u", "password": PASSWORD}))
    assert json.loads(credentials.read("paper", stdin))["password"] == PASSWORD
