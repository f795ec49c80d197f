"""Child processes in their own process groups, stopped as a whole group, on every path.

`Child.stop` stops the group and every descendant (also those in sessions of their own); the
watchdog (`deploy/watchdog.py`) does the same for whatever is still running when the process that
started them dies without stopping them; while a start or a stop runs, SIGINT, SIGTERM and SIGHUP
wait until it is done (`signals_deferred`).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from deploy import watchdog

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StackError(RuntimeError):
    """A part of the local stack did not start or answer; the message says what to do."""


_GIVEN: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, for a server started next. Chosen below the kernel's ephemeral
    range, where the kernel picks the ports of outgoing connections and of servers binding port
    0 (an emulator's gRPC server took a port handed out from that range before our worker bound
    it), and never the same twice in one process."""
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block is done, then deliver them to the handlers
    that were in place, so that a Ctrl-C never cuts a start or a stop in half. Handlers marked
    `harmless` (they never raise) stay in place. Only the main thread receives signals in
    Python; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        handler = signal.getsignal(sig)
        if handler in (signal.SIG_IGN, None) or getattr(handler, "harmless", False):
            continue  # ignored stays ignored; a handler set outside Python stays too
        previous[sig] = signal.signal(sig, lambda signum, _: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


class _Watchdog:
    """The client end of this process's watchdog (started with the first child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: IO[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = 0

    def send(self, verb: str, arg: object) -> None:
        with self._lock:
            if self._pipe is None or self._owner != os.getpid():
                self._start()
            assert self._pipe is not None
            try:
                self._pipe.write(f"{verb} {arg}\n")
                self._pipe.flush()
            except OSError:  # the watchdog was killed: start another for what follows
                self._pipe = None

    def _start(self) -> None:
        read, write = os.pipe()
        # The watchdog starts with SIGTERM blocked (a mask survives exec) and unblocks it once its
        # handler is set: a SIGTERM in its first milliseconds waits instead of ending it.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", watchdog.__file__],
                stdin=read,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(read)
        self._pipe = os.fdopen(write, "w")
        self._owner = os.getpid()

    def close(self) -> None:
        """At exit: the watchdog sees end of file and stops what was never stopped."""
        with self._lock:
            if self._pipe is not None and self._owner == os.getpid():
                with contextlib.suppress(OSError):
                    self._pipe.close()
                self._pipe = None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    assert self._proc is not None
                    self._proc.wait(timeout=1)


_watchdog = _Watchdog()
atexit.register(_watchdog.close)


def remove_on_exit(path: Path) -> None:
    """Remove `path` when this process ends, even by SIGKILL (undo with `keep`)."""
    _watchdog.send("file", os.path.abspath(path))


def keep(path: Path) -> None:
    _watchdog.send("keep", os.path.abspath(path))


def remove_container_on_exit(container: str) -> None:
    """`buildah rm` this working container when this process ends, even by SIGKILL (undo with
    `container_removed` once it is removed)."""
    _watchdog.send("container", container)


def container_removed(container: str) -> None:
    _watchdog.send("removed", container)


def _default_sigint() -> None:
    # A process started with SIGINT ignored (a shell's background job) passes that on; our
    # children must stay stoppable like any other process.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Child:
    """A started process group with its log file, or its output shown through `console`."""

    name: str
    command: Sequence[str]
    log_path: Path | None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    console: Callable[[str], str | None] | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _reader: threading.Thread | None = None

    def start(self) -> Child:
        out: int | IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = out = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        elif self.console is not None:
            out = subprocess.PIPE
        sigint_ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        with signals_deferred():  # once started, the child is known to stop() and the watchdog
            self.proc = subprocess.Popen(
                list(self.command),
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
                preexec_fn=_default_sigint if sigint_ignored else None,
            )
            _watchdog.send("group", self.proc.pid)
        if self.console is not None and self.proc.stdout is not None:
            self._reader = threading.Thread(
                target=self._show, name=f"{self.name}-output", daemon=True
            )
            self._reader.start()
        return self

    def _show(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self.console
        for raw in self.proc.stdout:
            line = self.console(raw.decode(errors="replace").rstrip("\n"))
            if line is not None:
                with contextlib.suppress(OSError, ValueError):
                    print(line, flush=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL what is left of it and of everything it started
        after `grace` seconds."""
        with signals_deferred():
            if self.proc is not None:
                watchdog.stop_group(self.proc.pid, grace, reap=self.proc.poll)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
                _watchdog.send("done", self.proc.pid)
            if self._reader is not None:
                self._reader.join(timeout=2)
                self._reader = None
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


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts connections on `host:port`."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_answers(url: str, expect: str | None = None) -> Callable[[], bool]:
    """A readiness probe: the URL answers at all (any status), or with `expect` in the body."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return expect is None or expect in response.read().decode(errors="replace")
        except urllib.error.HTTPError:
            return expect is None
        except (OSError, http.client.HTTPException):  # not up, or not an HTTP/1.1 server
            return False

    return probe
