"""Process trees, and the watchdog that stops them when the stack process dies without doing so.

A SIGKILLed (or crashed) stack process runs no cleanup, and its children live in their own
sessions, so nothing would stop them. Every process that starts a `deploy.processes.Child` also
starts one watchdog: this file run as a script (standard library only), in its own session, with
a pipe on its standard input whose writing end only the stack process holds. The stack writes a
line per event:

    group PGID    a process group it started        done PGID    one it stopped itself
    file PATH     remove when the stack dies         keep PATH    no longer
    container ID  a buildah working container        removed ID   one it removed itself

At end of file (the stack process is gone, however it ended) the watchdog stops every group still
listed exactly as `Child.stop` does, removes the files and the working containers (`buildah rm`),
and exits. A SIGTERM to the watchdog itself (`pkill -f` of a checkout's path, a stop of the whole
machine) does the same at once, since nothing would be left to stop them once it is gone; further
signals wait for that to finish.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable

# pid -> start time (clock ticks since boot), so that a reused pid is never signalled.
Tree = dict[int, int]


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, start time) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def _table() -> dict[int, tuple[str, int, int, int]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = _stat(int(name))
            if found is not None:
                table[int(name)] = found
    return table


def tree(pgid: int) -> Tree:
    """Every live process of the group `pgid` and all their descendants, in whatever session or
    group they put themselves (the worker starts its gateway in a session of its own)."""
    table = _table()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo = [pid for pid, (_, _, group, _) in table.items() if group == pgid]
    found: Tree = {}
    while todo:
        pid = todo.pop()
        if pid in found or pid not in table or table[pid][0] == "Z":
            continue
        found[pid] = table[pid][3]
        todo.extend(children.get(pid, ()))
    return found


def alive(processes: Tree) -> Tree:
    """The members of `processes` that still run (zombies count as gone)."""
    left: Tree = {}
    for pid, started in processes.items():
        found = _stat(pid)
        if found is not None and found[0] != "Z" and found[3] == started:
            left[pid] = started
    return left


def _signal_group(pgid: int, sig: int) -> None:
    if pgid == os.getpgid(0):
        return  # never our own group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _groups(processes: Tree) -> set[int]:
    return {found[2] for pid in processes if (found := _stat(pid)) is not None}


def stop_group(pgid: int, grace: float = 10.0, reap: Callable[[], object] | None = None) -> None:
    """SIGTERM the group (after SIGCONT, as a paused group cannot act on it), and once the group
    is gone the descendants it left in groups of their own; SIGKILL whatever is left of them all
    after `grace` seconds. `reap` is called while waiting (a parent must reap its child)."""
    members = tree(pgid)
    _signal_group(pgid, signal.SIGCONT)
    _signal_group(pgid, signal.SIGTERM)
    orphans_told = False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        members = alive({**members, **tree(pgid)})
        if not members:
            return
        groups = _groups(members)
        if not orphans_told and pgid not in groups:
            for group in groups:
                _signal_group(group, signal.SIGCONT)
                _signal_group(group, signal.SIGTERM)
            orphans_told = True
        time.sleep(0.05)
    kill(members)


def kill(processes: Tree) -> None:
    """SIGKILL these processes, their groups and everything they started meanwhile."""
    groups = _groups(processes)
    everything = dict(processes)
    for group in groups:
        everything.update(tree(group))
    for group in groups:
        _signal_group(group, signal.SIGKILL)
    for pid in alive(everything):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _say(message: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"[watchdog] {message}\n".encode())


class _Stop(Exception):
    """SIGTERM: clean up now."""


def _stop_now(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up is not cut short by a second one
    raise _Stop


def watch(
    lines: Iterable[str],
    groups: dict[int, None] | None = None,
    files: dict[str, None] | None = None,
    containers: dict[str, None] | None = None,
) -> tuple[list[int], list[str], list[str]]:
    """Follow the stack's events until they end; the groups, files and containers still listed
    (kept in the dicts given, so that what was read stays known if the watch is cut short)."""
    groups = {} if groups is None else groups
    files = {} if files is None else files
    containers = {} if containers is None else containers
    for line in lines:
        verb, _, arg = line.strip().partition(" ")
        if verb == "group":
            groups[int(arg)] = None
        elif verb == "done":
            groups.pop(int(arg), None)
        elif verb == "file":
            files[arg] = None
        elif verb == "keep":
            files.pop(arg, None)
        elif verb == "container":
            containers[arg] = None
        elif verb == "removed":
            containers.pop(arg, None)
    return list(groups), list(files), list(containers)


def remove_container(container: str) -> None:
    """`buildah rm`, once its processes are stopped: no working container is left behind."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["buildah", "rm", container],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )


def main() -> int:
    # In a session of its own nothing sent to the terminal or the stack's group reaches us; a
    # stray SIGINT or SIGHUP must not end the watch either.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    listed: tuple[dict[int, None], dict[str, None], dict[str, None]] = ({}, {}, {})
    why = "the stack process is gone"
    signal.signal(signal.SIGTERM, _stop_now)
    try:
        watch(sys.stdin, *listed)
    except _Stop:
        why = "SIGTERM"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups, files, containers = list(listed[0]), list(listed[1]), list(listed[2])
    if groups:
        _say(f"{why}: stopping {len(groups)} process group(s) the stack left")
        for pgid in reversed(groups):
            stop_group(pgid)
    for path in files:
        with contextlib.suppress(OSError):
            os.unlink(path)
    for container in containers:
        remove_container(container)
    return 0


if __name__ == "__main__":
    sys.exit(main())
