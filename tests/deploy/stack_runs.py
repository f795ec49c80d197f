"""`make up` / `python -m deploy up` as separate processes, found again in the process table.

Every process of a run carries a unique marker in its environment (the stack passes its own
environment on to the emulators, the worker and the worker's gateway), so the process table says
exactly what is left of it, whatever sessions and groups its parts put themselves in.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path

from deploy.stack import ROOT
from tests import proc_table

MARK = "IB_STACK_TEST_RUN"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def marked(mark: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment has the marker."""
    entry = f"{MARK}={mark}".encode()
    return {
        p.pid: proc_table.command_line(p.pid)
        for p in proc_table.processes()
        if p.alive and proc_table.environment_has(p.pid, entry)
    }


def ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _terminal_child(sigint: signal.Handlers) -> None:
    # The pty becomes the controlling terminal of the new session, as a terminal window's is,
    # so Ctrl-C typed into it signals the foreground group: make and the stack.
    signal.signal(signal.SIGINT, sigint)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class StackRun:
    """One `make up` (via_make) or `python -m deploy up` in a session of its own."""

    def __init__(
        self,
        tmp_path: Path,
        name: str,
        via_make: bool,
        terminal: bool = False,
        sigint: signal.Handlers = signal.SIG_DFL,
    ) -> None:
        self.name = name
        self.dir = tmp_path / name
        self.dir.mkdir()
        self.mark = f"{name}-{uuid.uuid4().hex[:8]}"
        self.env_file = self.dir / "env"
        self.ports: list[int] = []
        command = (
            ["make", "--no-print-directory", "-o", ".venv/.installed", "up", f"DEVSTACK={self.dir}"]
            if via_make
            else [sys.executable, "-m", "deploy", "up", "--state-dir", str(self.dir)]
        )
        env = {**os.environ, MARK: self.mark, "GATEWAY_KEEPALIVE_SECONDS": "300"}
        self._output = bytearray()
        self._master: int | None = None
        if terminal:
            self._master, tty = pty.openpty()
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**env, "TERM": "xterm"},
                stdin=tty,
                stdout=tty,
                stderr=tty,
                start_new_session=True,
                preexec_fn=lambda: _terminal_child(sigint),
            )
            os.close(tty)
            threading.Thread(target=self._drain, daemon=True).start()
        else:
            with open(self.dir / "output.log", "wb") as out:
                self.proc = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    # A test that signals the run decides its SIGINT, whatever pytest inherited.
                    preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
                )

    def _drain(self) -> None:
        assert self._master is not None
        with contextlib.suppress(OSError):
            while chunk := os.read(self._master, 65536):
                self._output += chunk

    @property
    def output(self) -> str:
        if self._master is None:
            return (self.dir / "output.log").read_text(errors="replace")
        return ANSI.sub("", self._output.decode(errors="replace"))

    def type(self, keys: bytes) -> None:
        assert self._master is not None
        os.write(self._master, keys)

    def wait_up(self, timeout: float = 180) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not self.env_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not come up:\n{self.output[-3000:]}")
            time.sleep(0.2)
        time.sleep(0.1)  # written in one go, but give the writer its moment
        env = dict(line.split("=", 1) for line in self.env_file.read_text().splitlines() if line)
        self.worker_url = env["WORKER_URL"]
        self.ports = [int(self.worker_url.rstrip("/").rsplit(":", 1)[1])] + [
            int(env[k].rsplit(":", 1)[1])
            for k in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST")
        ]
        return env

    def start_gateway(self) -> None:
        """A ping that connects to the gateway: the simulator runs and, kept warm, stays."""
        body = {
            "message": {
                "messageId": uuid.uuid4().hex,
                "data": b64encode(
                    json.dumps({"intent": "ping", "params": {"gateway": True}}).encode()
                ).decode(),
                "attributes": {},
            },
            "subscription": "projects/local-ib/subscriptions/test",
        }
        request = urllib.request.Request(
            self.worker_url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "succeeded", answer

    def parts(self) -> dict[str, list[int]]:
        """The run's processes by what they are."""
        kinds: dict[str, list[int]] = {}
        for pid, cmdline in marked(self.mark).items():
            kind = (
                "emulator JVM"
                if cmdline.startswith("java ")
                else "watchdog"
                if "deploy/watchdog.py" in cmdline
                else "gateway guard"
                if "gateway/guard.py" in cmdline
                else "worker"
                if re.search(r"worker\.server|functions-framework|gunicorn", cmdline)
                else "simulator"
                if "-m simulator" in cmdline
                else "dashboard"
                if "-m dashboard" in cmdline
                else "other"
            )
            kinds.setdefault(kind, []).append(pid)
        return kinds

    def assert_gone(self, timeout: float = 40) -> None:
        """Nothing of the run is left: no process, no open port, no env file."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                not marked(self.mark)
                and not any(port_open(p) for p in self.ports)
                and not self.env_file.exists()
            ):
                return
            time.sleep(0.25)
        left = marked(self.mark)
        raise AssertionError(
            f"{self.name} left {len(left)} process(es) {list(left.values())}, "
            f"open ports {[p for p in self.ports if port_open(p)]}, "
            f"env file {self.env_file.exists()}:\n{self.output[-3000:]}"
        )

    def kill(self) -> None:
        """After a failure: kill the run's own group; its watchdog stops the rest."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for pid in marked(self.mark):  # the watchdog too, should it be what hangs
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
