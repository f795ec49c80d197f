"""The tests' process-table reader against processes started here (each stopped on every path)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests import proc_table

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _wait_for(check, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(check())


def test_a_child_in_its_own_group_is_found_by_parent_group_and_environment():
    marker = f"PROC_TABLE_TEST={os.getpid()}"
    env = {**os.environ, "PROC_TABLE_TEST": str(os.getpid())}
    child = subprocess.Popen(SLEEPER, start_new_session=True, env=env)
    try:
        found = proc_table.read(child.pid)
        assert found is not None and found.ppid == os.getpid() and found.pgrp == child.pid
        assert found.alive
        assert child.pid in proc_table.children(os.getpid())
        assert proc_table.in_group(child.pid) == [child.pid]
        assert proc_table.environment_has(child.pid, marker.encode())
        assert not proc_table.environment_has(child.pid, b"PROC_TABLE_TEST=other")
        assert "time.sleep(60)" in proc_table.command_line(child.pid)
    finally:
        child.kill()
        child.wait()
    assert proc_table.read(child.pid) is None
    assert child.pid not in proc_table.children(os.getpid())
    assert proc_table.in_group(child.pid) == []
    assert not proc_table.environment_has(child.pid, marker.encode())
    assert proc_table.command_line(child.pid) == ""


def test_a_zombie_is_listed_but_not_alive():
    child = subprocess.Popen(SLEEPER, start_new_session=True)
    try:
        os.killpg(child.pid, signal.SIGKILL)
        assert _wait_for(lambda: (p := proc_table.read(child.pid)) is not None and p.state == "Z")
        zombie = proc_table.read(child.pid)
        assert zombie is not None and not zombie.alive
        assert child.pid in [p.pid for p in proc_table.processes()]
        assert child.pid not in proc_table.children(os.getpid())
        assert proc_table.in_group(child.pid) == []
    finally:
        child.kill()
        child.wait()


def test_a_command_name_with_spaces_and_parentheses_is_read():
    """stat's second field is the command name in parentheses, which may hold ") (" itself."""
    rename = (
        "import ctypes, time; "
        "ctypes.CDLL(None).prctl(15, b'odd) (x y', 0, 0, 0); "  # PR_SET_NAME
        "print(flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", rename], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # renamed
        assert "(odd) (x y)" in (proc_table.PROC / str(child.pid) / "stat").read_text()
        found = proc_table.read(child.pid)
        assert found is not None and found.ppid == os.getpid() and found.alive
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
