"""`python -m worker.gateway.always_on`: the gateway kept running for external-mode workers,
started again after an exit with a backoff, stopped whole on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.processes import free_port
from tests.conftest import leaked
from tests.support import wait_until
from worker.gateway import always_on

ROOT = Path(__file__).resolve().parents[3]
STANDIN = Path(__file__).with_name("ibcstart_standin.sh")
FAKE = {"userid": "canary-userid-NOT-REAL-5q", "password": "not-a-real-password-7Q"}


@given(st.floats(0, 120), st.floats(0, 10_000))
def test_the_backoff_doubles_to_a_minute_and_resets_after_a_steady_run(previous, ran_for):
    wait = always_on.next_backoff(previous, ran_for)
    assert 1.0 <= wait <= always_on.MAX_BACKOFF_SECONDS
    if ran_for >= always_on.STEADY_SECONDS:
        assert wait == 1.0
    elif previous >= 0.5:
        assert wait == min(always_on.MAX_BACKOFF_SECONDS, max(1.0, previous * 2))


class FakeLauncher:
    """Exits after `lives` polls each time it is started."""

    def __init__(self, stopping: threading.Event, exits: int) -> None:
        self.port = 4002
        self.starts = self.stops = 0
        self.exits = exits
        self.polls = 0
        self.stopping = stopping

    def start(self) -> None:
        self.starts += 1
        self.polls = 0

    def failure(self) -> str | None:
        self.polls += 1
        if self.starts <= self.exits and self.polls >= 2:
            return "ibc exited with code 1"
        if self.starts > self.exits:
            self.stopping.set()  # the operator stops it once it runs again
        return None

    def stop(self) -> None:
        self.stops += 1


def test_an_exited_gateway_is_started_again_until_stopped():
    stopping = threading.Event()
    launcher = FakeLauncher(stopping, exits=2)
    ticks = iter(range(1000))
    waited = []
    original_wait = stopping.wait

    def quick_wait(seconds: float | None = None) -> bool:
        waited.append(seconds)
        return original_wait(0)

    stopping.wait = quick_wait  # type: ignore[method-assign]
    starts = always_on.keep_running(launcher, stopping, lambda: float(next(ticks)))
    assert starts == 3 and launcher.starts == 3
    assert launcher.stops >= 3  # after each exit, and once at the end
    assert [w for w in waited if w and w >= 1.0] == [1.0, 2.0]  # the backoff between starts


@pytest.fixture
def ibc_home(tmp_path: Path) -> Path:
    (tmp_path / "ibc" / "scripts").mkdir(parents=True)
    shutil.copy(STANDIN, tmp_path / "ibc" / "scripts" / "ibcstart.sh")
    (tmp_path / "ibgateway" / "1030").mkdir(parents=True)
    (tmp_path / "ibc" / "config.ini.template").write_text("ReadOnlyApi=yes\n")
    return tmp_path


def group_alive(pgid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_the_module_serves_the_gateway_and_stops_it_whole_on_sigterm(ibc_home, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_MODE": "ibc",
        "IBC_PATH": str(ibc_home / "ibc"),
        "TWS_PATH": str(ibc_home / "ibgateway"),
        "IBC_INI": str(ibc_home / "ibc" / "config.ini.template"),
        "TWS_SETTINGS_PATH": str(tmp_path / "jts"),
        "IB_CREDENTIALS_JSON": json.dumps(FAKE),
        "IB_GATEWAY_PORT": str(port),
        "STANDIN_PYTHON": sys.executable,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.gateway.always_on"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def accepting() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_until(accepting, 60, "the gateway's API port")
        gateway = [pid for pid in group_alive(proc.pid) if pid != proc.pid]
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = proc.stdout.read().decode(errors="replace")
    proc.stdout.close()
    assert "gateway started (start 1)" in output and "gateway stopped" in output
    assert leaked(output) == []
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in gateway) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in gateway if Path(f"/proc/{pid}/stat").exists()]
    assert not [p for p in left if Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
    assert not accepting()


def test_another_gateway_mode_is_refused_with_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "worker.gateway.always_on"],
        env={**os.environ, "GATEWAY_MODE": "simulator", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "GATEWAY_MODE=ibc" in done.stdout + done.stderr
