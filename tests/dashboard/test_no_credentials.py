"""The dashboard without Google credentials (no emulator, no usable ADC, no metadata server):
every page that reads Firestore says what is missing, a 503, never a 500 or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dashboard.app import create_app
from dashboard.settings import Settings
from deploy.stack import ROOT
from publisher.records import Records

PATHS = ("/intents", "/intents/paper/abc", "/holdings", "/account", "/config")
NOTHING_LISTENS = "127.0.0.1:9"


def _without_credentials(env: dict[str, str], tmp_path) -> dict[str, str]:
    env = {k: v for k, v in env.items() if not k.startswith(("FIRESTORE_", "PUBSUB_"))}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    env["CLOUDSDK_CONFIG"] = str(tmp_path / "gcloud")  # no ADC file there
    # the metadata server's check fails at once (these are read when google.auth is imported)
    env.update(GCE_METADATA_HOST=NOTHING_LISTENS, GCE_METADATA_IP=NOTHING_LISTENS)
    env["GCE_METADATA_DETECT_RETRIES"] = "1"
    return env


@pytest.mark.parametrize("fragment", [False, True])
def test_a_missing_credentials_file_is_a_clear_503_on_every_page(
    monkeypatch, tmp_path, fragment
) -> None:
    for name in [n for n in os.environ if n.startswith(("FIRESTORE_", "PUBSUB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    settings = Settings(project="demo-nocreds", firestore_timeout=1.0)
    client = create_app(settings, Records(project=settings.project, timeout=1.0)).test_client()
    headers = {"X-Fragment": "1"} if fragment else {}
    for path in PATHS:
        page = client.get(path, headers=headers)
        html = page.get_data(as_text=True)
        assert page.status_code == 503, (path, html)
        assert "No Google credentials" in html, path
        assert "gcloud auth application-default login" in html, path
        assert "Something went wrong" not in html, path
    assert client.get("/healthz").status_code == 200  # the service itself is up


PROBE = """
from dashboard.app import create_app
from dashboard.settings import Settings
client = create_app(Settings(project="demo-nocreds")).test_client()
page = client.get("/holdings")
print(page.status_code, "No Google credentials" in page.get_data(as_text=True))
"""


def test_no_credentials_at_all_is_the_same_clear_503(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=_without_credentials(dict(os.environ), tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["503", "True"], done.stdout + done.stderr
    assert "Traceback" not in done.stderr
