"""The local stack as a person uses it: `make up` in one terminal, gcloud in another."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy import emulators
from deploy.emulators import PrerequisiteMissing
from deploy.stack import ROOT


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(*needles: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(n in cmdline or n in environ.split("\0") for n in needles):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def start_up(state_dir: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "deploy", "up", "--state-dir", str(state_dir)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for_env(proc: subprocess.Popen, path: Path, timeout: float = 120) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return read_env(path)
        if proc.poll() is not None:
            raise AssertionError(f"make up exited early:\n{proc.stdout.read().decode()}")
        time.sleep(0.2)
    raise AssertionError("make up did not write its env file")


def gcloud(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # What a person does in another terminal: `set -a; . .devstack/env; set +a; gcloud ...`
    script = f"set -a; . {env['_file']}; set +a; gcloud " + " ".join(args)
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")},
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_make_up_serves_gcloud_and_stops_cleanly(tmp_path, stop_signal):
    proc = start_up(tmp_path, GATEWAY_KEEPALIVE_SECONDS="61", TEST_MARKER=str(tmp_path))
    try:
        env = wait_for_env(proc, tmp_path / "env")
        env["_file"] = str(tmp_path / "env")
        assert env["CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB"].endswith("/")
        assert env["CLOUDSDK_AUTH_DISABLE_CREDENTIALS"] == "true"
        assert {
            "GOOGLE_CLOUD_PROJECT",
            "PUBSUB_EMULATOR_HOST",
            "FIRESTORE_EMULATOR_HOST",
            "CLOUDSDK_CORE_PROJECT",
            "WORKER_URL",
        } <= set(env)
        worker_port = int(env["WORKER_URL"].rsplit(":", 1)[1].strip("/"))
        ports = [worker_port] + [
            int(env[k].rsplit(":", 1)[1])
            for k in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST")
        ]
        # Variables given to `make up` reach the worker process.
        worker = [
            p for p in processes_mentioning(f"PORT={worker_port}") if "functions-framework" in p
        ]
        assert worker, "worker process not found"
        environ = Path(f"/proc/{worker[0].split(':')[0]}/environ").read_bytes().split(b"\0")
        assert b"GATEWAY_KEEPALIVE_SECONDS=61" in environ
        if stop_signal == signal.SIGTERM:
            published = gcloud(
                env, "pubsub", "topics", "publish", "intents", '--message=\'{"intent":"ping"}\''
            )
            assert published.returncode == 0, published.stderr
            pulled: list = []
            deadline = time.monotonic() + 60
            while not pulled and time.monotonic() < deadline:
                out = gcloud(
                    env,
                    "pubsub",
                    "subscriptions",
                    "pull",
                    "intent-results-tap",
                    "--auto-ack",
                    "--format=json",
                )
                assert out.returncode == 0, out.stderr
                pulled = json.loads(out.stdout or "[]")
            assert pulled, "no result on intent-results-tap"
            assert pulled[0]["message"]["attributes"]["status"] == "succeeded"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, stop_signal)
        assert proc.wait(timeout=60) == 0, proc.stdout.read().decode()[-3000:]
    assert not (tmp_path / "env").exists()
    assert not [p for p in ports if port_open(p)]
    assert processes_mentioning(*(f"--port={p}" for p in ports), str(tmp_path)) == []


def test_missing_gcloud_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    emulators.sdk_root.cache_clear()
    try:
        with pytest.raises(PrerequisiteMissing) as caught:
            emulators.check_prerequisites()
    finally:
        emulators.sdk_root.cache_clear()
    message = str(caught.value)
    assert "not on PATH" in message
    assert "gcloud components install beta pubsub-emulator cloud-firestore-emulator" in message


def test_make_demo_succeeds_and_leaves_nothing_running(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "demo", "--state-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^  status +succeeded$", done.stdout, re.M)
    assert "demo succeeded" in done.stdout
    assert processes_mentioning(str(tmp_path)) == []
