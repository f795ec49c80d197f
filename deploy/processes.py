"""Child processes in their own process groups, stopped as a whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class StackError(RuntimeError):
    """A part of the local stack did not start or answer; the message says what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Child:
    """A started process group with its log file."""

    name: str
    command: Sequence[str]
    log_path: Path | None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> Child:
        out: int | IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = out = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            list(self.command),
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL what is left after `grace` seconds."""
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGCONT)  # a paused group cannot act on SIGTERM
            _signal_group(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
            # Grandchildren (the emulators' JVMs) may outlive the wrapper: sweep the group.
            deadline = time.monotonic() + grace
            while _group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(self.proc.pid, signal.SIGKILL)
            if self.proc.poll() is None:
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def pause(self) -> None:
        """Stop the whole group in place (SIGSTOP), as a hung process would be."""
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.log_path, lines) if self.log_path else "(output not captured)"

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` every 50 ms until it holds; fail fast if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                code = self.proc.returncode if self.proc else None
                raise StackError(
                    f"{self.name} exited with code {code} before {what}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.05)
        raise StackError(f"{self.name} not {what} after {timeout:.0f} s:\n{self.log_tail()}")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def http_answers(url: str, expect: str | None = None) -> Callable[[], bool]:
    """A readiness probe: the URL answers at all (any status), or with `expect` in the body."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return expect is None or expect in response.read().decode(errors="replace")
        except urllib.error.HTTPError:
            return expect is None
        except OSError:
            return False

    return probe
