"""The gateway session inside the real worker process (gunicorn), as Cloud Run runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

from tests.support import events, log_size, publish, record, unique, wait_for_log
from tests.worker.gateway.test_ibc_launcher import FAKE, STANDIN


def simulators_on(port: int) -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = proc.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"simulator" in argv and str(port).encode() in argv:
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


def test_ibc_mode_with_the_standin_logs_no_credential(stack, results, worker_env, tmp_path):
    (tmp_path / "ibc" / "scripts").mkdir(parents=True)
    shutil.copy(STANDIN, tmp_path / "ibc" / "scripts" / "ibcstart.sh")
    (tmp_path / "ibgateway" / "1030").mkdir(parents=True)
    (tmp_path / "tmp").mkdir()
    worker_env(
        TMPDIR=str(tmp_path / "tmp"),
        GATEWAY_MODE="ibc",
        IB_CREDENTIALS_JSON=json.dumps(FAKE),
        IBC_PATH=str(tmp_path / "ibc"),
        TWS_PATH=str(tmp_path / "ibgateway"),
        IBC_INI=str(tmp_path / "ibc" / "missing.ini"),
        STANDIN_PYTHON=os.sys.executable,
    )
    intent_id = unique("ibc")
    publish(stack, {"intent": "summary", "id": intent_id})
    result = results.for_id(intent_id, timeout=60)
    assert result["status"] == "succeeded", result["error"]
    log_text = (stack.log_dir / "worker.log").read_text()
    assert "stand-in IBC: login for testuser1 password=***" in log_text
    assert FAKE["password"] not in log_text
    assert list((tmp_path / "tmp").iterdir()) == []  # the ini with the password is gone
