"""`python -m simulator` as a person runs it: serves unmodified clients, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import ib_async
import pytest

from deploy.processes import free_port
from deploy.stack import ROOT


def _connected(port: int) -> ib_async.IB:
    ib = ib_async.IB()
    deadline = time.monotonic() + 20
    while not ib.isConnected():
        try:
            ib.connect("127.0.0.1", port, clientId=1, timeout=2)
        except (ConnectionRefusedError, TimeoutError, OSError):
            assert time.monotonic() < deadline, "the simulator never opened its port"
            time.sleep(0.2)
    return ib


def test_command_serves_account_values_and_stops_on_sigterm():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ib = _connected(port)
        tags = {v.tag for v in ib.accountValues()[:50]}
        ib.disconnect()
        assert "NetLiquidation" in tags
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


@pytest.mark.parametrize("second", [None, signal.SIGINT, signal.SIGTERM])
def test_a_stop_with_a_client_connected_is_quiet_whatever_signal_follows(second):
    """SIGTERM with a client still connected (the worker's gateway session, as a process group
    stop delivers it), then maybe another signal at once: no traceback, no error line."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ib = None
    try:
        ib = _connected(port)
        server.send_signal(signal.SIGTERM)
        if second is not None:
            server.send_signal(second)
        server.wait(timeout=10)
        said = server.stderr.read()
        assert "Traceback" not in said and " ERROR " not in said, said
        assert server.returncode in (0, -signal.SIGTERM, -signal.SIGINT), said
    finally:
        if ib is not None:
            ib.disconnect()
        if server.poll() is None:
            server.kill()
        server.wait()
