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
machine) stops the listed groups at once, all within one grace period, since nothing would be left
to stop them once it is gone; from then on it stops every group the stack still starts, and
cleans up the rest at end of file as usual. Further SIGTERMs change nothing.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

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


class Listed:
    """What the stack has said it started and not yet stopped itself."""

    def __init__(self) -> None:
        self.groups: dict[int, None] = {}
        self.files: dict[str, None] = {}
        self.containers: dict[str, None] = {}

    def apply(self, line: str) -> int | None:
        """Take in one event; a group it starts is returned (for a watchdog already stopping)."""
        verb, _, arg = line.strip().partition(" ")
        if verb == "group":
            self.groups[int(arg)] = None
            return int(arg)
        if verb == "done":
            self.groups.pop(int(arg), None)
        elif verb == "file":
            self.files[arg] = None
        elif verb == "keep":
            self.files.pop(arg, None)
        elif verb == "container":
            self.containers[arg] = None
        elif verb == "removed":
            self.containers.pop(arg, None)
        return None


def _events(fd: int, wake: int) -> Iterator[str | None]:
    """The stack's lines from `fd` until end of file, and None whenever a signal arrived (its
    byte on `wake`, signal.set_wakeup_fd); nothing read is ever lost to a signal."""
    pending = b""
    while True:
        ready, _, _ = select.select([fd, wake], [], [])
        if fd in ready:  # what the stack said before the signal counts first
            data = os.read(fd, 65536)
            if not data:
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode(errors="replace")
        if wake in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake, 512)
            yield None


def stop_groups(pgids: Iterable[int]) -> None:
    """stop_group for each, side by side: one grace period for all, not one after another (a
    machine's stop gives the whole of it little more than one)."""
    threads = [threading.Thread(target=stop_group, args=(pgid,)) for pgid in pgids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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
    # stray SIGINT or SIGHUP must not end the watch either. SIGTERM (the process started us with
    # it blocked, so none is lost before this point) stops everything listed at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGTERM, lambda *_: None)  # its byte on the wake-up pipe says it came
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    listed, stopping = Listed(), False
    for line in _events(sys.stdin.fileno(), wake_read):
        if line is None:
            if not stopping and listed.groups:
                _say(f"SIGTERM: stopping {len(listed.groups)} process group(s) the stack left")
                stop_groups(reversed(list(listed.groups)))
                listed.groups.clear()
            stopping = True  # from now on, what the stack still starts is stopped at once
            continue
        started = listed.apply(line)
        if stopping and started is not None:
            _say("SIGTERM earlier: stopping a process group the stack started since")
            stop_group(started)
            listed.groups.pop(started, None)
    if listed.groups:
        _say(f"the stack process is gone: stopping {len(listed.groups)} process group(s) it left")
        stop_groups(reversed(list(listed.groups)))
    for path in listed.files:
        with contextlib.suppress(OSError):
            os.unlink(path)
    for container in listed.containers:
        remove_container(container)
    return 0


if __name__ == "__main__":
    sys.exit(main())
