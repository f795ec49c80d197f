"""The always-on gateway's webhook address: NOTIFY_URL, else the Secret Manager secret
NOTIFY_URL_SECRET names (a local stand-in of Secret Manager here). Read once, masked in the logs;
a secret that cannot be read or holds no address costs the notices, not the gateway."""

from __future__ import annotations

import logging

import pytest

from tests.worker.gateway.fake_secret_manager import FakeSecretManager
from worker import logs
from worker.gateway.credentials import CredentialSource
from worker.gateway.notify_secret import notify_url, secret_path
from worker.settings import Settings

PATH = "projects/local-ib/secrets/ib-notify-url/versions/latest"
HOOK = "https://hooks.example.invalid/services/T0/B0/not-a-real-hook-4d"


@pytest.fixture
def secrets():
    with FakeSecretManager() as server:
        yield server


def read(secrets: FakeSecretManager, **env: str) -> str:
    settings = Settings.from_env(
        {"GOOGLE_CLOUD_PROJECT": "local-ib", "SECRET_MANAGER_ENDPOINT": secrets.endpoint, **env}
    )
    return notify_url(settings, CredentialSource(settings))


def test_notify_url_wins_and_nothing_is_read(secrets):
    assert read(secrets, NOTIFY_URL=HOOK, NOTIFY_URL_SECRET="ib-notify-url") == HOOK
    assert read(secrets) == ""
    assert secrets.calls == []


def test_the_secret_s_address_is_read_and_masked_in_logs(secrets, caplog):
    secrets.secrets[PATH] = f"{HOOK}\n".encode()
    assert read(secrets, NOTIFY_URL_SECRET="ib-notify-url") == HOOK
    assert secrets.calls == [PATH]
    assert HOOK not in logs.redact(f"posting to {HOOK}")


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda s: None, "cannot be read (NotFound)"),
        (lambda s: s.denied.add(PATH), "cannot be read (PermissionDenied)"),
        (lambda s: s.secrets.update({PATH: b"mailto:me@example.invalid"}), "no webhook address"),
        (lambda s: s.secrets.update({PATH: b"not an address"}), "no webhook address"),
    ],
)
def test_a_secret_that_gives_no_address_means_no_notices_and_one_warning(
    secrets, caplog, setup, words
):
    setup(secrets)
    with caplog.at_level(logging.WARNING, logger="worker.gateway"):
        assert read(secrets, NOTIFY_URL_SECRET="ib-notify-url") == ""
    (line,) = [r.getMessage() for r in caplog.records if "no notices" in r.getMessage()]
    assert words in line and PATH in line


def test_the_secret_path_takes_a_name_or_a_full_path():
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p"})
    assert secret_path(settings, "hook") == "projects/p/secrets/hook/versions/latest"
    assert secret_path(settings, "projects/q/secrets/h") == "projects/q/secrets/h/versions/latest"
    full = "projects/q/secrets/h/versions/3"
    assert secret_path(settings, full) == full
