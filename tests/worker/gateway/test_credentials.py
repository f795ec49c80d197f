"""Credentials from the environment or from Secret Manager (a local gRPC stand-in)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.worker.gateway.fake_secret_manager import FakeSecretManager
from worker import logs
from worker.exceptions import CredentialsError
from worker.gateway.credentials import CredentialSource
from worker.settings import Settings

NAME = "projects/local-ib/secrets/ib-credentials-paper/versions/latest"
# Obviously fake test values, shaped like nothing real.
FAKE = {"userid": "testuser1", "password": "not-a-real-password-7Q"}


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
