"""How a stack part's container is run (no buildah runs here: the command is only built).
`buildah run` has no env file, so the environment is on its command line: plain settings pass,
anything credential-like is refused there, and IB's credentials reach the container only as a
read-only mounted file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.images import buildah, container
from deploy.processes import StackError

PLAIN = {
    "GATEWAY_MODE": "external",
    "IB_GATEWAY_PORT": "4002",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080",
    "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
    "IB_CREDENTIALS_SECRET": "ib-credentials-paper",  # a secret's name, not its value
    "IB_CREDENTIALS_FILE": container.CREDENTIALS_MOUNT,
    "WORKER_URL": "http://127.0.0.1:8080/",
}


def test_plain_settings_are_env_options_of_buildah_run():
    argv = buildah.run_command("c1", ["python", "-m", "worker"], env=PLAIN)
    pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--env"]
    assert pairs == [f"{k}={v}" for k, v in PLAIN.items()]
    assert argv[-5:] == ["c1", "--", "python", "-m", "worker"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("IB_CREDENTIALS_JSON", '{"userid": "u", "password": "p"}'),
        ("NOTIFY_URL", "https://hooks.example.invalid/abc"),
        ("SMTP_PASSWORD", "x"),
        ("GITHUB_TOKEN", "x"),
        ("SLACK_WEBHOOK", "https://hooks.example.invalid/abc"),
        ("DATABASE_URL", "postgres://me:hunter2@db.example.invalid/x"),
        ("SETTINGS", '{"Password": "p"}'),
    ],
)
def test_a_credential_like_entry_is_refused_without_its_value(key, value):
    with pytest.raises(StackError, match=key) as refused:
        buildah.run_command("c1", ["true"], env={**PLAIN, key: value})
    assert value not in str(refused.value)


@given(st.dictionaries(st.from_regex(r"[A-Z_]{1,20}", fullmatch=True), st.text(max_size=40)))
def test_every_entry_is_either_refused_or_passed_as_given(env):
    try:
        argv = buildah.run_command("c1", ["true"], env=env)
    except StackError:
        assert any(buildah.credential_like(k, v) for k, v in env.items())
        return
    assert not any(buildah.credential_like(k, v) for k, v in env.items())
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--env"] == [
        f"{k}={v}" for k, v in env.items()
    ]


def test_ib_credentials_reach_the_container_only_as_a_read_only_file(monkeypatch, tmp_path):
    monkeypatch.setattr(container, "image_user", lambda image: (os.getuid(), os.getgid()))
    monkeypatch.setattr(container, "image_command", lambda image: ["python", "-m", "worker"])
    monkeypatch.setattr(buildah, "new_container", lambda image, name: name)
    credentials = container.fake_credentials()
    child = container.prepare(
        "worker",
        "localhost/ib-worker:local",
        {"GATEWAY_MODE": "ibc"},
        tmp_path / "worker.log",
        credentials=credentials,
        secrets_dir=tmp_path / "secrets",
    )
    argv = child.command
    assert credentials not in " ".join(argv)
    assert json.loads(credentials)["password"] not in " ".join(argv)
    assert f"IB_CREDENTIALS_FILE={container.CREDENTIALS_MOUNT}" in argv
    volume = argv[argv.index("--volume") + 1]
    assert volume == f"{child.secret_file}:{container.CREDENTIALS_MOUNT}:ro"
    assert Path(child.secret_file).read_text() == credentials
    assert Path(child.secret_file).stat().st_mode & 0o777 == 0o600
