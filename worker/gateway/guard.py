"""Run a gateway command so that it cannot outlive the worker process that started it.

    python -I guard.py WORKER_PID -- COMMAND...

The guard leads the gateway's process group (the worker starts it in a new session) and runs the
command as its child. When the worker process is gone, by any exit including SIGKILL, the guard
sees it re-parented and takes the whole group down: SIGTERM, then SIGKILL after a grace period
(IBC's ibcstart.sh forwards SIGTERM to the gateway's Java process; whatever ignores it is killed).

Why a watch on the parent instead of prctl(PR_SET_PDEATHSIG) in the child: the kernel sends the
parent-death signal when the *thread* that forked the child exits, and the gateway may be started
from any thread that opens the session; the parent process id changes only when the process dies.
A SIGTERM to the group (the worker's own stop) is passed to the command, whose exit code the
guard exits with. Only the standard library is imported: this file runs in an isolated interpreter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0


def _take_down_group(child: subprocess.Popen[bytes]) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the guard's own group signal below
    with contextlib.suppress(ProcessLookupError):
        os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(0, signal.SIGKILL)  # stragglers, and the guard with them


def _kill_stragglers() -> None:
    """SIGKILL what the command left behind in the group (its own children that outlived it)."""
    me = os.getpid()
    for stat in os.listdir("/proc"):
        if not stat.isdigit() or int(stat) == me:
            continue
        try:
            with open(f"/proc/{stat}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == me:
                os.kill(int(stat), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: guard.py WORKER_PID -- COMMAND...", file=sys.stderr)
        return 2
    worker = int(argv[1])
    if os.getppid() != worker:
        return 1  # the worker died before the guard started: start nothing
    child = subprocess.Popen(argv[3:], close_fds=False)  # keeps the fds the worker passed

    def stop(*_: object) -> None:
        if child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            code = child.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            if os.getppid() != worker:
                _take_down_group(child)
            continue
        _kill_stragglers()
        return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
