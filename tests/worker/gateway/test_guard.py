"""The guard: a gateway's process group goes when the worker process that started it goes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.worker.gateway.test_ibc_launcher import living_in_group
from worker.gateway import guard
from worker.gateway.process import GatewayProcess

ROOT = Path(__file__).resolve().parents[3]


def worker_with_gateway(script: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    """A stand-in worker process that starts a gateway running `script` under the guard; returns
    it and the gateway's process group."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from worker.gateway.process import GatewayProcess
        process = GatewayProcess("gw", ["bash", "-c", {script!r}]).start()
        print(process.pid, flush=True)
        time.sleep(300)
        """
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    group = int(worker.stdout.readline())
    deadline = time.monotonic() + 10
    while len(living_in_group(group)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the guard, bash and its sleeps
    assert len(living_in_group(group)) >= 3
    return worker, group


def wait_gone(group: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while living_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    return living_in_group(group)


def test_sigkill_of_the_worker_takes_the_whole_gateway_group_down(tmp_path):
    worker, group = worker_with_gateway("sleep 300 & sleep 300 & wait", tmp_path)
    worker.kill()
    worker.wait()
    assert wait_gone(group, timeout=5) == []


def test_a_gateway_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    worker, group = worker_with_gateway("trap '' TERM; sleep 300 & sleep 300 & wait", tmp_path)
    worker.kill()
    worker.wait()
    time.sleep(1)
    assert living_in_group(group), "SIGTERM was ignored: the group waits out its grace period"
    assert wait_gone(group, timeout=guard.GRACE_SECONDS + 3) == []


def test_the_workers_stop_lets_the_gateway_finish_its_shutdown(tmp_path):
    done = tmp_path / "shut-down"
    script = f"trap 'sleep 0.5; touch {done!s}; exit 0' TERM; sleep 300 & wait"
    process = GatewayProcess("gw", ["bash", "-c", script]).start()
    time.sleep(0.5)
    process.stop()
    assert done.exists()
    assert process.exit_code == 0
    assert living_in_group(process.pid) == []


def test_exit_codes_pass_through():
    for script, code in (("exit 87", 87), ("kill -TERM $$", 128 + signal.SIGTERM)):
        process = GatewayProcess("gw", ["bash", "-c", script]).start()
        process.proc.wait(timeout=10)
        assert process.exit_code == code
        process.stop()


def test_a_guard_whose_worker_is_already_gone_starts_nothing(tmp_path):
    marker = tmp_path / "started"
    result = subprocess.run(
        [sys.executable, "-I", guard.__file__, "1", "--", "touch", str(marker)], timeout=30
    )
    assert result.returncode == 1
    assert not marker.exists()
    usage = subprocess.run(
        [sys.executable, "-I", guard.__file__, str(os.getpid())], capture_output=True, timeout=30
    )
    assert usage.returncode == 2 and b"usage: guard.py" in usage.stderr
