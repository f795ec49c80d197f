"""A gateway child process: own process group, output streamed to the log, stopped on every exit.

Every gateway runs under `guard.py`, which takes its process group down when the worker process
dies (SIGKILL included); a normal interpreter exit stops them at once (atexit). A gateway that
listens on a port leaves a pid file in a known place, so that a worker that finds a gateway on its
port can tell a stale one of its own (stopped) from anything else (refused, never adopted).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from worker.exceptions import GatewayError
from worker.logs import redact

log = logging.getLogger("worker.gateway")
# The worker's own secrets stay out of the gateway's environment (readable in /proc/*/environ
# and inherited by everything IBC starts).
PRIVATE_ENV = ("IB_CREDENTIALS_JSON",)
GUARD = Path(__file__).with_name("guard.py")
_running: set[GatewayProcess] = set()
_running_lock = threading.Lock()


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    return {**env, **extra}


class GatewayProcess:
    """Runs a command under the guard in its own process group and keeps the tail of its output.

    `pass_fds` are handed to the command at the same numbers; `port` is where it will listen (its
    pid file is written for that port).
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        tail_lines: int = 40,
        pass_fds: Sequence[int] = (),
        port: int | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.on_line = on_line  # each (redacted) output line, on the reader thread
        self.command = list(command)
        self.env = dict(env or {})
        self.cwd = cwd
        self.pass_fds = tuple(pass_fds)
        self.port = port
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> GatewayProcess:
        guarded = [sys.executable, "-I", str(GUARD), str(os.getpid()), "--", *self.command]
        self.proc = subprocess.Popen(
            guarded,
            env=child_environment(self.env),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=self.pass_fds,
        )
        with _running_lock:
            _running.add(self)
        if self.port is not None:
            try:
                PidFile(self.port).write(self.proc.pid)
            except OSError as exc:  # the gateway runs all the same; only the stale check is off
                log.warning("no pid file for the gateway on port %d: %s", self.port, exc)
        self._reader = threading.Thread(target=self._read, name=f"{self.name}-output", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"{self.name}:"
        for raw in self.proc.stdout:
            line = redact(raw.decode(errors="replace").rstrip())
            self.tail.append(line)
            if self.on_line is not None:
                try:
                    self.on_line(line)
                except Exception:  # a listener's failure must not stop the gateway's output
                    log.exception("a listener of the %s output failed", self.name)
            # The simulator names itself already ("simulator: API listening ...").
            log.info("%s", line if line.lower().startswith(prefix) else f"{prefix} {line}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def log_tail(self, lines: int = 15) -> str:
        if self._reader is not None and self.exit_code is not None:
            self._reader.join(timeout=2)  # a gateway that exited: its last lines say why
        return "\n".join(list(self.tail)[-lines:]) or "(no output)"

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.proc.wait(timeout=wait)
                if sig == signal.SIGTERM:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers in the group
            except subprocess.TimeoutExpired:
                continue
            except (ProcessLookupError, PermissionError):
                pass
            break
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self.port is not None:
            with contextlib.suppress(OSError):
                PidFile(self.port).remove(self.proc.pid)
        with _running_lock:
            _running.discard(self)


@atexit.register
def _stop_all() -> None:
    """A worker that exits normally (gunicorn's worker exit, max requests) leaves no gateway."""
    with _running_lock:
        running = list(_running)
    for process in running:
        with contextlib.suppress(Exception):
            process.stop(grace=5.0)


# -- stale gateways -------------------------------------------------------------------------------


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it is gone or a zombie);
    a pid and its start time name one process, even after the pid is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


class PidFile:
    """`$TMPDIR/ib-gateways-{uid}/{port}.json`: the guard and the worker process of a gateway."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.gettempdir()) / f"ib-gateways-{os.getuid()}"
        self.path = self.dir / f"{port}.json"

    def write(self, guard: int) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)
        if self.dir.is_symlink() or self.dir.stat().st_uid != os.getuid():
            log.warning(
                "%s is not a directory of this user; no pid file for port %d", self.dir, self.port
            )
            return
        worker = os.getpid()
        record = {
            "guard": guard,
            "guardStart": start_time(guard),
            "worker": worker,
            "workerStart": start_time(worker),
        }
        tmp = self.path.with_suffix(f".{worker}.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self.path)

    def read(self) -> dict[str, int] | None:
        try:
            record = json.loads(self.path.read_text())
            return {k: int(record[k]) for k in ("guard", "guardStart", "worker", "workerStart")}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remove(self, guard: int) -> None:
        record = self.read()
        if record is not None and record["guard"] == guard:
            self.path.unlink(missing_ok=True)


def _alive(pid: int, started: int) -> bool:
    return start_time(pid) == started


def _stop_group(pgid: int, grace: float = 10.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while start_time(pgid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def remove_stale_pid_files() -> None:
    """Pid files of gateways whose processes are gone (any port: a worker killed before it
    could remove its own, a stack stopped since), and half-written ones whose writer is gone.
    A file whose gateway still runs stays: `clear_port` decides about it on its port."""
    folder = PidFile(0).dir
    with contextlib.suppress(OSError):
        if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
            return
        for path in sorted(folder.iterdir()):
            if _stale_pid_file(path):
                path.unlink(missing_ok=True)
                log.warning("removed a stale gateway pid file %s (its processes are gone)", path)


def _stale_pid_file(path: Path) -> bool:
    parts = path.name.split(".")
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() and parts[2] == "tmp":
        return start_time(int(parts[1])) is None  # `{port}.{worker}.tmp` of a gone writer
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] != "json":
        return False  # not ours
    record = PidFile(int(parts[0])).read()
    return record is None or not _alive(record["guard"], record["guardStart"])


def clear_port(name: str, host: str, port: int) -> None:
    """Before a gateway starts on `port`: remove stale pid files, stop a stale gateway of ours
    there (its worker process is gone), and refuse a port that anything else holds (a retryable
    error)."""
    remove_stale_pid_files()
    pidfile = PidFile(port)
    record = pidfile.read()
    if record is not None and _alive(record["guard"], record["guardStart"]):
        if _alive(record["worker"], record["workerStart"]):
            raise GatewayError(
                "gateway-port-busy",
                f"cannot start the {name} gateway: port {port} belongs to the gateway of worker "
                f"process {record['worker']}, which is running: give each worker its own "
                f"IB_GATEWAY_PORT",
            )
        log.warning(
            "stopping a stale gateway on port %d (process group %d) left by worker process %d, "
            "which is gone",
            port,
            record["guard"],
            record["worker"],
        )
        _stop_group(record["guard"])
        pidfile.remove(record["guard"])
    elif record is not None:
        pidfile.remove(record["guard"])
    if _listening(host, port):
        raise GatewayError(
            "gateway-port-busy",
            f"cannot start the {name} gateway: port {port} at {host} is already in use by a "
            f"process this worker did not start (it never connects to a gateway it does not "
            f"own): stop that process, or set IB_GATEWAY_PORT to a free port",
        )
