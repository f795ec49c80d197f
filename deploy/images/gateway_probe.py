"""Run inside the worker image (`python gateway_probe.py`, the image's user, PYTHONPATH=/app): start
the gateway exactly as the worker does (the `ibc` launcher: Xvfb, the in-memory config.ini, IBC's
ibcstart.sh, the gateway), wait until its API port accepts, stop it, and print one JSON line:

    {"ready": true, "ready_seconds": 1.2, "started": [...], "left": [], "files_with_password": []}

`started` are the processes the start made (pid and command), `left` those still alive after the
stop; `files_with_password` the files under the writable folders that hold the password. Reads
the settings the worker reads (GATEWAY_MODE=ibc, IB_CREDENTIALS_FILE, IB_GATEWAY_PORT).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import IbcLauncher
from worker.settings import Settings

WRITABLE = ("/tmp", "/var/tmp", "/home", "/run/user", "/dev/shm")


def _table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError):
            continue
        if stat[0] != "Z":
            table[int(entry.name)] = (int(stat[1]), command)
    return table


def _descendants(root: int) -> dict[int, str]:
    table = _table()
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, command) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = command
                todo.append(pid)
    return found


def _ready(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _holding(secret: bytes) -> list[str]:
    found = []
    for top in (*WRITABLE, tempfile.gettempdir()):
        for folder, _, files in os.walk(top):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    if secret in Path(path).read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return sorted(set(found))


def main() -> int:
    settings = Settings.from_env()
    credentials = CredentialSource(settings)
    password = credentials.get().password.encode()
    launcher = IbcLauncher(settings, credentials)
    started = time.monotonic()
    launcher.start()
    ready_after = None
    try:
        while time.monotonic() - started < 60 and launcher.failure() is None:
            if _ready(settings.gateway_host, settings.gateway_port):
                ready_after = time.monotonic() - started
                break
            time.sleep(0.02)
        made = _descendants(os.getpid())
    finally:
        launcher.stop()
    alive = _table()
    report = {
        "ready": ready_after is not None,
        "ready_seconds": ready_after,
        "failure": launcher.failure() if ready_after is None else None,
        "started": [{"pid": pid, "command": command} for pid, command in made.items()],
        "left": [{"pid": pid, "command": alive[pid][1]} for pid in made if pid in alive],
        "files_with_password": _holding(password),
    }
    print(json.dumps(report), flush=True)
    return 0 if report["ready"] else 1


if __name__ == "__main__":
    sys.exit(main())
