"""A gateway child process: own process group, output streamed to the log, group stop."""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

from worker.logs import redact

log = logging.getLogger("worker.gateway")
# The worker's own secrets stay out of the gateway's environment (readable in /proc/*/environ
# and inherited by everything IBC starts).
PRIVATE_ENV = ("IB_CREDENTIALS_JSON",)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    return {**env, **extra}


class GatewayProcess:
    """Runs a command in its own process group and keeps the tail of its output."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        tail_lines: int = 40,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env or {})
        self.cwd = cwd
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> GatewayProcess:
        self.proc = subprocess.Popen(
            self.command,
            env=child_environment(self.env),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name=f"{self.name}-output", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = redact(raw.decode(errors="replace").rstrip())
            self.tail.append(line)
            log.info("%s: %s", self.name, line)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def log_tail(self, lines: int = 15) -> str:
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
