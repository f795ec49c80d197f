"""Credentials from the environment or from Secret Manager (a local gRPC stand-in)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.worker.gateway.fake_secret_manager import FakeSecretManager
from worker import logs, names
from worker.exceptions import CredentialsError
from worker.gateway.credentials import CredentialSource, parse
from worker.settings import Settings

NAME = "projects/local-ib/secrets/ib-credentials-paper/versions/latest"
# Obviously fake test values, shaped like nothing real.
FAKE = {"userid": "canary-userid-NOT-REAL-5q", "password": "not-a-real-password-7Q"}


@pytest.fixture
def secrets():
    with FakeSecretManager() as server:
        yield server


def source(secrets: FakeSecretManager, **env: str) -> CredentialSource:
    return CredentialSource(
        Settings.from_env(
            {
                "GOOGLE_CLOUD_PROJECT": "local-ib",
                "SECRET_MANAGER_ENDPOINT": secrets.endpoint,
                **env,
            }
        )
    )


def test_read_from_secret_manager_once_and_again_after_refresh(secrets):
    secrets.secrets[NAME] = json.dumps(FAKE).encode()
    creds = source(secrets)
    got = creds.get()
    assert (got.userid, got.password) == (FAKE["userid"], FAKE["password"])
    assert creds.get() is got
    assert secrets.calls == [NAME]
    secrets.secrets[NAME] = json.dumps({**FAKE, "password": "rotated-fake-password-9"}).encode()
    assert creds.refresh().password == "rotated-fake-password-9"
    assert len(secrets.calls) == 2
    assert FAKE["password"] not in repr(got)


def test_secret_name_and_version_from_settings(secrets):
    name = "projects/local-ib/secrets/my-ib/versions/3"
    secrets.secrets[name] = json.dumps(FAKE).encode()
    creds = source(secrets, IB_CREDENTIALS_SECRET="my-ib", IB_CREDENTIALS_VERSION="3")
    assert creds.get().userid == FAKE["userid"]


@pytest.mark.parametrize("mode", names.TRADING_MODES)
def test_the_default_secret_is_the_one_the_set_up_creates(mode):
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "local-ib", "TRADING_MODE": mode})
    secret = names.credentials_secret(mode)
    assert secret.endswith(mode)
    want = f"projects/local-ib/secrets/{secret}/versions/latest"
    assert CredentialSource(settings).secret_name == want


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (None, "not found: create it"),
        (b"{not json", "is not valid JSON"),
        (b'["a"]', "must be a JSON object"),
        (b'{"userid": "u"}', "lacks password"),
        (b'{"userid": "", "password": 5}', "lacks userid and password"),
    ],
)
def test_missing_or_malformed_secret_is_a_clear_permanent_error(secrets, payload, words):
    if payload is not None:
        secrets.secrets[NAME] = payload
    with pytest.raises(CredentialsError) as caught:
        source(secrets).get()
    assert words in str(caught.value)
    assert NAME in str(caught.value)
    assert caught.value.retryable is False


def test_permission_denied_names_the_role(secrets):
    secrets.denied.add(NAME)
    with pytest.raises(CredentialsError, match=r"roles/secretmanager\.secretAccessor"):
        source(secrets).get()


def test_env_json_wins_and_the_password_is_redacted_from_logs(secrets, caplog):
    creds = source(secrets, IB_CREDENTIALS_JSON=json.dumps(FAKE)).get()
    assert creds.userid == FAKE["userid"]
    assert secrets.calls == []
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pw %s", (FAKE["password"],), None)
    assert FAKE["password"] not in logs.JsonFormatter().format(record)
    with pytest.raises(CredentialsError, match="IB_CREDENTIALS_JSON is not valid JSON") as caught:
        source(secrets, IB_CREDENTIALS_JSON="{" + FAKE["password"]).get()
    assert FAKE["password"] not in str(caught.value)


def test_a_mounted_file_is_read_when_no_json_is_set(secrets, tmp_path):
    mounted = tmp_path / "credentials.json"
    mounted.write_text(json.dumps(FAKE))
    creds = source(secrets, IB_CREDENTIALS_FILE=str(mounted)).get()
    assert (creds.userid, creds.password) == (FAKE["userid"], FAKE["password"])
    assert secrets.calls == []  # Secret Manager is not asked
    other = {"userid": "other-userid-NOT-REAL-9z", "password": "other-password-NOT-REAL-4k"}
    both = source(secrets, IB_CREDENTIALS_JSON=json.dumps(other), IB_CREDENTIALS_FILE=str(mounted))
    assert both.get().userid == other["userid"]  # the environment value wins, as before


def test_a_missing_or_malformed_mounted_file_is_a_clear_error_without_its_content(
    secrets, tmp_path
):
    with pytest.raises(CredentialsError, match=r"IB_CREDENTIALS_FILE .*absent.json cannot be read"):
        source(secrets, IB_CREDENTIALS_FILE=str(tmp_path / "absent.json")).get()
    broken = tmp_path / "broken.json"
    broken.write_text("{" + FAKE["password"])
    with pytest.raises(CredentialsError, match="IB_CREDENTIALS_FILE is not valid JSON") as caught:
        source(secrets, IB_CREDENTIALS_FILE=str(broken)).get()
    assert FAKE["password"] not in str(caught.value)
    assert secrets.calls == []


def test_the_user_id_is_masked_like_the_password_in_any_case(secrets):
    source(secrets, IB_CREDENTIALS_JSON=json.dumps(FAKE)).get()
    echoed = f"login for {FAKE['userid'].upper()} with {FAKE['password'].swapcase()} failed"
    assert logs.redact(echoed) == "login for *** with *** failed"


# Obviously fake, with every character that some program quotes escaped: ", \\, =, :, non-ASCII.
ESCAPED_PW = 'fake"pw\\not=real:ç€-9'
ESCAPED_FORMS = {
    "JSON": 'fake\\"pw\\\\not=real:\\u00e7\\u20ac-9',
    "JSON, non-ASCII kept": 'fake\\"pw\\\\not=real:ç€-9',
    "Python repr": 'fake"pw\\\\not=real:ç€-9',
    "IBC's config.ini": 'fake"pw\\\\not=real:\\u00e7\\u20ac-9',
    "java.util.Properties.store": 'fake"pw\\\\not\\=real\\:\\u00E7\\u20AC-9',
}


@pytest.mark.parametrize("form", ESCAPED_FORMS, ids=list(ESCAPED_FORMS))
def test_a_password_quoted_escaped_is_masked_too(form):
    parse(json.dumps({**FAKE, "password": ESCAPED_PW}), "test")
    quoted = ESCAPED_FORMS[form]
    line = f"IBC said: login with {quoted} was refused; {ESCAPED_PW.upper()} too"
    assert logs.redact(line) == "IBC said: login with *** was refused; *** too"


def test_the_config_ini_line_and_a_json_log_line_never_show_the_password():
    from worker.gateway.properties import properties_value

    parse(json.dumps({**FAKE, "password": ESCAPED_PW}), "test")
    written = properties_value(ESCAPED_PW)
    assert written == ESCAPED_FORMS["IBC's config.ini"]  # what the worker writes is masked
    for echoed in (f"reading {written} failed", json.dumps({"detail": ESCAPED_PW})):
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "%s", (echoed,), None)
        formatted = logs.JsonFormatter().format(record)
        assert "not=real" not in formatted and "not\\=real" not in formatted


INJECTION = "not-a-real-password-7Q\nTrustedTwsApiClientIPs=0.0.0.0/0\nCommandServerPort=7462"


@pytest.mark.parametrize(
    ("userid", "password", "words"),
    [
        (FAKE["userid"], INJECTION, "the password contains a control character"),
        (FAKE["userid"], "not-a-real\rpassword", "the password contains a control character"),
        (FAKE["userid"], "not-a-real\tpassword", "the password contains a control character"),
        (FAKE["userid"], "not-a-real\x00password", "the password contains a control character"),
        (FAKE["userid"], "not-a-real\u2028password", "the password contains a control character"),
        (FAKE["userid"], "not-a-real\x85password", "the password contains a control character"),
        (FAKE["userid"], "not-a-real\u200bpassword", "the password contains a control character"),
        (FAKE["userid"], "not-a-real\ud800password", "the password contains a control character"),
        ("canary\nIbDir=/tmp", FAKE["password"], "the userid contains a control character"),
        (FAKE["userid"], "Qz", "the password is shorter than 3 characters"),
        ("Q", FAKE["password"], "the userid is shorter than 3 characters"),
        (FAKE["userid"], "x" * 257, "the password is longer than 256 characters"),
    ],
)
def test_credentials_that_cannot_be_kept_safe_are_refused_naming_the_secret(
    secrets, userid, password, words
):
    secrets.secrets[NAME] = json.dumps({"userid": userid, "password": password}).encode()
    with pytest.raises(CredentialsError) as caught:
        source(secrets).get()
    message = str(caught.value)
    assert message.startswith(f"secret {NAME}: {words}")
    assert caught.value.retryable is False
    for value in (userid, password):
        assert value not in message
    assert "0.0.0.0" not in message and "IbDir" not in message


_ANY_SOURCE_MESSAGE = re.compile(
    r"IB_CREDENTIALS_JSON("
    r": the (userid|password) (contains a control character|is shorter than 3 characters"
    r"|is longer than 256 characters)[^\n]*: fix the secret"
    r"| is not valid JSON"
    r"| must be a JSON object [^\n]*"
    r"| lacks (userid|password|userid and password) \(non-empty strings\))"
)


@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(
        st.fixed_dictionaries({"userid": st.text(max_size=300), "password": st.text(max_size=300)}),
        st.dictionaries(
            st.sampled_from(["userid", "password", "other"]), st.text() | st.integers()
        ),
        st.text(),
        st.lists(st.text()),
    ),
)
def test_any_payload_gives_safe_credentials_or_an_error_from_a_fixed_vocabulary(payload):
    """Whatever the secret holds: either credentials that IBC's config.ini and the log redactor
    can carry, or an error whose words never depend on the secret's content."""
    try:
        creds = parse(json.dumps(payload), "IB_CREDENTIALS_JSON")
    except CredentialsError as exc:
        assert _ANY_SOURCE_MESSAGE.fullmatch(str(exc)), str(exc)
        return
    for value in (creds.userid, creds.password):
        assert 3 <= len(value) <= 256
        assert not set(value) & set("\n\r\x00\x85\u2028\u2029\t\x1b")
        assert value not in logs.redact(f"echo {value} echo") or "*" in value
