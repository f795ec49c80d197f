"""The gateway session inside the real worker process (gunicorn), as Cloud Run runs it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from tests import proc_table
from tests.conftest import leaked
from tests.support import (
    envelope,
    events,
    intent_ref,
    log_size,
    post,
    publish,
    record,
    unique,
    wait_for_log,
)
from tests.worker.gateway.ibc_standin import CANARY_USERID, FAKE, STANDIN
from tests.worker.gateway.test_ibc_launcher import living_in_group

CANARY_PASSWORD = "Canary-Pw-NOT-REAL-k3Z9"
CANARY = {"userid": CANARY_USERID, "password": CANARY_PASSWORD}


def simulators_on(port: int, needle: bytes = b"simulator") -> list[str]:
    """Processes with `needle` (and `port`, unless 0) among their arguments: the simulator and
    its guard."""
    found = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = proc.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(needle in arg for arg in argv) and (not port or str(port).encode() in argv):
            found.append(proc.parent.name)
    return found


def test_sigterm_during_an_intent_stops_the_gateway_and_the_redelivery_completes(
    stack, db, results, worker_env
):
    worker_env(SIMULATOR_BOOT_DELAY="6")
    intent_id = unique("sigterm")
    offset = log_size(stack)
    publish(stack, {"intent": "summary", "id": intent_id})
    wait_for_log(stack, "waiting for the simulator gateway", after=offset)
    assert simulators_on(stack.gateway_port)
    master = stack.children["worker"].proc
    master.send_signal(signal.SIGTERM)  # what Cloud Run sends to the container
    assert master.wait(timeout=30) is not None
    deadline = time.monotonic() + 10
    while simulators_on(stack.gateway_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert simulators_on(stack.gateway_port) == []
    assert not db.collection("locks").document("gateway-paper").get().exists
    saved = record(db, intent_id)
    assert (saved["status"], saved["attempts"]) == ("received", 0)
    assert "attempt returned" in events(db, intent_id)
    worker_env(SIMULATOR_BOOT_DELAY="0")  # a new instance comes up; Pub/Sub redelivers
    result = results.for_id(intent_id, timeout=60)
    assert result["status"] == "succeeded"
    assert result["timings"]["gatewayReused"] is False


def ibc_env(tmp_path: Path, credentials: dict[str, str], **extra: str) -> dict[str, str]:
    """Settings for the stack's worker in `ibc` mode with the stand-in ibcstart.sh."""
    if not (tmp_path / "ibc").exists():
        (tmp_path / "ibc" / "scripts").mkdir(parents=True)
        shutil.copy(STANDIN, tmp_path / "ibc" / "scripts" / "ibcstart.sh")
        (tmp_path / "ibgateway" / "1030").mkdir(parents=True)
        (tmp_path / "tmp").mkdir()
    return {
        "TMPDIR": str(tmp_path / "tmp"),
        "GATEWAY_MODE": "ibc",
        "IB_CREDENTIALS_JSON": json.dumps(credentials),
        "IBC_PATH": str(tmp_path / "ibc"),
        "TWS_PATH": str(tmp_path / "ibgateway"),
        "IBC_INI": str(tmp_path / "ibc" / "missing.ini"),
        "STANDIN_PYTHON": sys.executable,
        **extra,
    }


def files_holding(secret: str, *folders: Path) -> list[Path]:
    """Files of this user under `folders` that contain `secret` in any letter case."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                if path.is_symlink() or not path.is_file() or path.stat().st_uid != os.getuid():
                    continue
                if (
                    secret.casefold()
                    in path.read_bytes()[:1_000_000].decode(errors="replace").casefold()
                ):
                    found.append(path)
            except OSError:
                continue
    return found


def post_until_not_busy(stack, body: dict, timeout: float = 60) -> tuple[int, dict]:
    """POST a delivery again while the worker answers 429 (a dead worker's gateway lease)."""
    deadline = time.monotonic() + timeout
    while True:
        status, answer = post(stack, body, timeout=60)
        if status != 429 or time.monotonic() > deadline:
            return status, answer
        time.sleep(1)


def test_ibc_mode_with_the_standin_logs_no_credential(stack, results, worker_env, tmp_path):
    worker_env(**ibc_env(tmp_path, FAKE))
    intent_id = unique("ibc")
    publish(stack, {"intent": "summary", "id": intent_id})
    result = results.for_id(intent_id, timeout=60)
    assert result["status"] == "succeeded", result["error"]
    log_text = (stack.log_dir / "worker.log").read_text()
    assert "stand-in IBC: login for *** password=***" in log_text
    assert "stand-in IBC: typed *** into the login dialog of ***" in log_text
    assert leaked(log_text) == []
    assert files_holding(FAKE["password"], tmp_path / "tmp") == []  # nothing on disk, ever


def test_canary_credentials_never_leak_from_failed_logins(stack, db, results, worker_env, tmp_path):
    """Both attempts fail at the login; the gateway echoes the user id and a case-changed password.
    Neither appears in the HTTP answers, the result, the intent's record and events, or the log."""
    worker_env(**ibc_env(tmp_path, CANARY, STANDIN_EXIT="1", MAX_ATTEMPTS="2"))
    offset = log_size(stack)
    intent_id = unique("canary")
    body = envelope({"intent": "summary", "id": intent_id})
    answers = [post(stack, body, timeout=60) for _ in range(2)]
    assert [status for status, _ in answers] == [503, 200]
    error = answers[0][1]["error"]
    assert error["code"] == "gateway-exited" and "ibc exited with code 1" in error["message"]
    assert "stand-in IBC: login for *** password=***" in error["message"]  # the tail is there
    assert "Login failed: unrecognized Username or Password (user ***)" in error["message"]
    result = results.for_id(intent_id, timeout=30)
    assert (result["status"], result["attempts"]) == ("failed", 2)
    saved = record(db, intent_id)
    trail = [e.to_dict() for e in intent_ref(db, intent_id).collection("events").stream()]
    assert "attempt failed" in [e["type"] for e in trail]
    with (stack.log_dir / "worker.log").open("rb") as log:
        log.seek(offset)
        log_text = log.read().decode(errors="replace")
    assert "Login failed" in log_text
    for where, text in [
        ("HTTP answers", json.dumps(answers)),
        ("result", json.dumps(result)),
        ("record", json.dumps(saved, default=str)),
        ("events", json.dumps(trail, default=str)),
        ("worker log", log_text),
    ]:
        assert leaked(text) == [], where


def test_sigkill_of_the_gunicorn_worker_takes_its_warm_gateway_along(stack, results, worker_env):
    worker_env(GATEWAY_KEEPALIVE_SECONDS="60", GATEWAY_LEASE_SECONDS="10")
    first = unique("warm")
    publish(stack, {"intent": "summary", "id": first})
    assert results.for_id(first, timeout=60)["status"] == "succeeded"
    assert simulators_on(stack.gateway_port), "the warm gateway runs"
    master = stack.children["worker"].proc
    (gunicorn_worker,) = proc_table.children(master.pid)
    os.kill(gunicorn_worker, signal.SIGKILL)  # the master stays and forks a new worker
    deadline = time.monotonic() + 15
    while simulators_on(stack.gateway_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert simulators_on(stack.gateway_port) == []
    assert master.poll() is None
    second = unique("fresh")
    publish(stack, {"intent": "summary", "id": second})  # 429 until the dead one's lease expires
    result = results.for_id(second, timeout=90)
    assert result["status"] == "succeeded", result["error"]
    assert result["timings"]["gatewayReused"] is False


def test_sigkill_during_login_leaves_no_password_on_disk(stack, results, worker_env, tmp_path):
    env = ibc_env(tmp_path, CANARY, GATEWAY_LEASE_SECONDS="10")
    stale = tmp_path / "tmp" / "ibc-x8d2k1"  # what an earlier version left after such a kill
    stale.mkdir()
    (stale / "config.ini").write_text(f"IbLoginId={CANARY_USERID}\nIbPassword={CANARY_PASSWORD}\n")
    worker_env(**env, STANDIN_SLEEP="120")
    offset = log_size(stack)
    body = envelope({"intent": "summary", "id": unique("login")})

    def deliver() -> None:
        with contextlib.suppress(OSError):  # the worker is killed while it handles this
            post(stack, body, timeout=60)

    pending = threading.Thread(target=deliver, daemon=True)
    pending.start()
    wait_for_log(stack, "stand-in IBC: typed *** into the login dialog", after=offset)
    standins = simulators_on(0, needle=str(tmp_path / "ibc" / "scripts").encode())
    assert standins
    group = os.getpgid(int(standins[0]))
    assert len(living_in_group(group)) >= 3  # the guard, the stand-in and its `sleep`
    os.killpg(stack.children["worker"].proc.pid, signal.SIGKILL)  # master and worker
    pending.join(timeout=30)
    deadline = time.monotonic() + 15
    while living_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert living_in_group(group) == []
    worker_env(**env)  # started again; the stand-in now logs in
    status, answer = post_until_not_busy(
        stack, envelope({"intent": "summary", "id": unique("again")})
    )
    assert (status, answer.get("status")) == (200, "succeeded"), answer
    assert not stale.exists()
    for secret in (CANARY_PASSWORD, CANARY_USERID):
        assert files_holding(secret, tmp_path / "tmp", Path("/dev/shm")) == []
