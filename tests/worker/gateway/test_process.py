"""Gateway processes: output lines, a normal exit, pid files and what is found on the port."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from deploy.processes import free_port
from tests.worker.gateway.test_ibc_launcher import living_in_group
from worker.exceptions import GatewayError
from worker.gateway.process import GatewayProcess, PidFile, clear_port, start_time

ROOT = Path(__file__).resolve().parents[3]
LISTEN = "import socket, sys, time; s = socket.create_server(('127.0.0.1', int(sys.argv[1]))); "
LISTEN += "print('listening', flush=True); time.sleep(300)"


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Pid files in this test's own temp dir."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def listener():
    """A process listening on a port, in its own process group, as a gateway would."""
    started = []

    def start(port: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", LISTEN, str(port)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout.readline().strip() == "listening"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def dead_process() -> tuple[int, int]:
    """The pid and start time of a process that has exited."""
    proc = subprocess.Popen(["sleep", "30"])
    started = start_time(proc.pid)
    proc.kill()
    proc.wait()
    return proc.pid, started


def test_output_is_logged_with_one_name_prefix(caplog):
    script = "echo 'simulator: API listening on 127.0.0.1:4002'; echo 'a plain line'"
    with caplog.at_level(logging.INFO, logger="worker.gateway"):
        process = GatewayProcess("simulator", ["bash", "-c", script]).start()
        process.proc.wait(timeout=10)
        process.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "worker.gateway"]
    assert lines == ["simulator: API listening on 127.0.0.1:4002", "simulator: a plain line"]


def test_a_worker_that_exits_normally_leaves_no_gateway():
    code = textwrap.dedent(
        """
        import sys
        from worker.gateway.process import GatewayProcess
        process = GatewayProcess("gw", ["bash", "-c", "sleep 300 & wait"]).start()
        print(process.pid, flush=True)
        sys.exit(0)
        """
    )
    worker = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    group = int(worker.stdout.split()[0])
    assert living_in_group(group) == []  # stopped before the worker's exit, by atexit


def test_a_gateway_with_a_port_leaves_a_pid_file_while_it_runs(tmp_path):
    port = free_port()
    process = GatewayProcess("gw", ["sleep", "300"], port=port).start()
    try:
        record = json.loads((tmp_path / f"ib-gateways-{os.getuid()}" / f"{port}.json").read_text())
        assert record["guard"] == process.pid and record["worker"] == os.getpid()
        assert record["guardStart"] == start_time(process.pid)
    finally:
        process.stop()
    assert PidFile(port).read() is None


def test_a_port_held_by_a_process_of_someone_else_is_refused(listener):
    port = free_port()
    listener(port)
    with pytest.raises(GatewayError) as caught:
        clear_port("simulator", "127.0.0.1", port)
    assert caught.value.code == "gateway-port-busy"
    assert caught.value.retryable is True
    assert f"port {port} at 127.0.0.1 is already in use" in str(caught.value)


def test_a_stale_gateway_of_a_dead_worker_is_stopped(listener, caplog):
    port = free_port()
    stale = listener(port)
    worker, worker_start = dead_process()
    record = {
        "guard": stale.pid,
        "guardStart": start_time(stale.pid),
        "worker": worker,
        "workerStart": worker_start,
    }
    PidFile(port).dir.mkdir(mode=0o700)
    PidFile(port).path.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="worker.gateway"):
        clear_port("simulator", "127.0.0.1", port)
    assert stale.wait(timeout=5) is not None
    assert f"stopping a stale gateway on port {port}" in caplog.text
    assert PidFile(port).read() is None
    with socket.create_server(("127.0.0.1", port)):
        pass  # the port is free again


def test_the_gateway_of_a_running_worker_is_left_alone(listener):
    port = free_port()
    other = listener(port)
    record = {
        "guard": other.pid,
        "guardStart": start_time(other.pid),
        "worker": os.getpid(),
        "workerStart": start_time(os.getpid()),
    }
    PidFile(port).dir.mkdir(mode=0o700)
    PidFile(port).path.write_text(json.dumps(record))
    with pytest.raises(
        GatewayError, match=f"belongs to the gateway of worker process {os.getpid()}"
    ):
        clear_port("simulator", "127.0.0.1", port)
    assert other.poll() is None


def test_a_pid_file_whose_gateway_is_gone_is_removed():
    port = free_port()
    guard, guard_start = dead_process()
    record = {"guard": guard, "guardStart": guard_start, "worker": 1, "workerStart": 0}
    PidFile(port).dir.mkdir(mode=0o700)
    PidFile(port).path.write_text(json.dumps(record))
    clear_port("simulator", "127.0.0.1", port)
    assert PidFile(port).read() is None


def test_a_reused_pid_is_not_taken_for_the_gateway(listener):
    """The pid is alive but started at another time: not the gateway the file names."""
    port = free_port()
    bystander = listener(free_port())
    worker, worker_start = dead_process()
    record = {
        "guard": bystander.pid,
        "guardStart": start_time(bystander.pid) - 1,
        "worker": worker,
        "workerStart": worker_start,
    }
    PidFile(port).dir.mkdir(mode=0o700)
    PidFile(port).path.write_text(json.dumps(record))
    clear_port("simulator", "127.0.0.1", port)
    time.sleep(0.2)
    assert bystander.poll() is None


def test_stale_pid_files_of_any_port_are_removed_at_start_and_live_ones_kept(listener, caplog):
    """A stack stopped or a worker killed leaves pid files of other ports: those whose gateway
    is gone go when a gateway starts (as stale config files do); a running one's stays."""
    folder = PidFile(0).dir
    folder.mkdir(mode=0o700)
    guard, guard_start = dead_process()
    gone = {"guard": guard, "guardStart": guard_start, "worker": guard, "workerStart": guard_start}
    running = listener(free_port())
    alive = {
        "guard": running.pid,
        "guardStart": start_time(running.pid),
        "worker": os.getpid(),
        "workerStart": start_time(os.getpid()),
    }
    stale_port, live_port = free_port(), free_port()
    PidFile(stale_port).path.write_text(json.dumps(gone))
    PidFile(live_port).path.write_text(json.dumps(alive))
    (folder / f"{free_port()}.json").write_text("{not json")  # unreadable: nothing to keep
    (folder / f"{free_port()}.{guard}.tmp").write_text("{}")  # a write cut short by its death
    writing = f"{free_port()}.{os.getpid()}.tmp"  # a write under way
    (folder / writing).write_text("{}")
    (folder / "notes.txt").write_text("not ours")
    with caplog.at_level(logging.WARNING, logger="worker.gateway"):
        clear_port("simulator", "127.0.0.1", free_port())
    left = {p.name for p in folder.iterdir()}
    assert left == {f"{live_port}.json", writing, "notes.txt"}
    assert PidFile(live_port).read() == alive
    assert running.poll() is None  # a running gateway is left alone
    assert sum("stale gateway pid file" in r.getMessage() for r in caplog.records) == 3
