"""The process table as the tests read it (Linux /proc): who is alive, whose child, in which
process group, with what in its environment. One reader instead of a loop over /proc/*/stat in
every test that checks that a process is gone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    pid: int
    state: str  # R, S, D, T, ...; Z: exited, waiting for its parent to reap it; X: dead
    ppid: int
    pgrp: int

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def read(pid: int) -> Process | None:
    """The process `pid` as /proc/PID/stat describes it; None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces and parentheses itself.
    fields = text.rsplit(")", 1)[1].split()
    return Process(pid, fields[0], int(fields[1]), int(fields[2]))


def processes() -> list[Process]:
    """Every process now, zombies included."""
    found = (read(int(entry.name)) for entry in PROC.iterdir() if entry.name.isdigit())
    return [p for p in found if p is not None]


def children(pid: int) -> list[int]:
    """The living children of `pid`."""
    return sorted(p.pid for p in processes() if p.ppid == pid and p.alive)


def in_group(pgid: int) -> list[int]:
    """The living members of process group `pgid`."""
    return sorted(p.pid for p in processes() if p.pgrp == pgid and p.alive)


def environment_has(pid: int, entry: bytes) -> bool:
    """Whether `KEY=value` is one of the process's environment variables (False once gone)."""
    try:
        return entry in (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def command_line(pid: int) -> str:
    """The process's arguments joined by spaces ("" once gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""
