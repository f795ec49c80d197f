"""Child processes stop with everything they started; signals wait for a start or stop to end; the
watchdog stops what a killed process left. Checked from the process table."""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from deploy.processes import Child, free_port, http_answers, signals_deferred
from deploy.stack import ROOT
from deploy.stopping import Interrupted, StopSignals
from tests.deploy.stack_runs import MARK, marked

# A group leader that ignores SIGTERM, a member of its group, and a grandchild that put itself in
# a session of its own (as the worker's gateway does) and ignores SIGTERM too.
STUBBORN_TREE = (
    "trap '' TERM; setsid bash -c \"trap '' TERM; sleep 300\" & sleep 300 & "
    "while :; do sleep 0.1; done"
)


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return None


def wait_gone(mark: str, timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return marked(mark)


def test_stop_takes_down_the_group_and_descendants_in_other_sessions():
    mark = uuid.uuid4().hex
    child = Child("tree", ["bash", "-c", STUBBORN_TREE], None, env={MARK: mark}).start()
    try:

        def elsewhere() -> list[int]:  # started by the child, in a session of their own
            return [p for p in marked(mark) if _session(p) not in (None, child.proc.pid)]

        deadline = time.monotonic() + 5
        while not (len(marked(mark)) >= 3 and elsewhere()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(marked(mark)) >= 3 and elsewhere(), marked(mark)
        started = time.monotonic()
        child.stop(grace=0.5)  # nothing of it reacts to SIGTERM: SIGKILL after the grace
        # the grace given, not the default: well under the default 10 s even on a loaded machine
        assert (
            time.monotonic() - started < inspect.signature(Child.stop).parameters["grace"].default
        )
        assert wait_gone(mark, 2) == {}
        assert child.proc.returncode == -signal.SIGKILL
    finally:
        for pid in marked(mark):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def sigterm_raises():
    class Stopped(Exception):
        pass

    def handler(signum, frame):
        raise Stopped

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield Stopped
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_signal_during_a_deferred_block_arrives_after_it(sigterm_raises):
    done = []
    with pytest.raises(sigterm_raises), signals_deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        done.append("the whole block")
    assert done == ["the whole block"]
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the handler is back


def test_the_first_stop_signal_interrupts_and_later_ones_only_say_so(capfd):
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        signals = StopSignals()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even under `make test &`
        signals.install()
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert caught.value.signum == signal.SIGTERM == signals.received
        with signals_deferred():  # the stop: the harmless handler stays, nothing raises
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        err = capfd.readouterr().err
        assert "[stack] SIGTERM: stopping" in err
        assert "[stack] SIGINT: already stopping, please wait" in err
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_the_watchdog_stops_what_a_killed_process_left_and_removes_its_files(tmp_path):
    mark = uuid.uuid4().hex
    env_file = tmp_path / "env"
    env_file.write_text("X=1\n")
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from deploy.processes import Child, remove_on_exit
        Child("tree", ["bash", "-c", "setsid sleep 300 & sleep 300"], None).start()
        remove_on_exit(Path({str(env_file)!r}))
        print("started", flush=True)
        time.sleep(300)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, MARK: mark},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "started\n"
        parts = marked(mark).values()
        assert any("watchdog.py" in p for p in parts) and any("sleep" in p for p in parts)
        proc.kill()
        proc.wait()
        assert wait_gone(mark, 15) == {}
        assert not env_file.exists()
        assert "[watchdog] the stack process is gone" in proc.stderr.read()
    finally:
        proc.kill()
        for pid in marked(mark):
            os.kill(pid, signal.SIGKILL)


def test_a_sigterm_to_the_watchdog_stops_what_it_watches_and_whatever_starts_after(tmp_path):
    """`pkill -f` of a checkout's path reaches the watchdog before (or without) the stack process:
    what it watches is stopped then, not left to nobody, and so is what the stack starts after.
    The SIGTERM comes in the watchdog's first moments, before Python set its handler."""
    mark = uuid.uuid4().hex
    script = textwrap.dedent(
        """
        import sys, time
        from deploy.processes import Child
        Child("tree", ["bash", "-c", "setsid sleep 300 & sleep 300"], None).start()
        print("started", flush=True)
        sys.stdin.readline()
        Child("later", ["sleep", "301"], None).start()
        print("later", flush=True)
        time.sleep(300)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, MARK: mark},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def left() -> set[str]:
        return {line.split()[-1] for pid, line in marked(mark).items() if pid != proc.pid}

    def settles_to(expected: set[str]) -> set[str]:
        deadline = time.monotonic() + 15
        while left() != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return left()

    try:
        assert proc.stdout.readline() == "started\n"
        (dog,) = [pid for pid, line in marked(mark).items() if "watchdog.py" in line]
        os.kill(dog, signal.SIGTERM)  # at once: its handler may not be set yet
        watchdog_only = {str(ROOT / "deploy" / "watchdog.py")}
        assert settles_to(watchdog_only) == watchdog_only  # the tree is gone, the watch goes on
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "later\n"
        assert settles_to(watchdog_only) == watchdog_only  # started after: stopped at once
        proc.kill()
        proc.wait()
        assert settles_to(set()) == set()  # end of file: the watchdog is gone too
    finally:
        proc.kill()
        proc.wait()
        for pid in marked(mark):
            os.kill(pid, signal.SIGKILL)
    assert "[watchdog] SIGTERM: stopping 1 process group(s)" in proc.stderr.read()


def test_a_clean_exit_leaves_no_watchdog_behind(tmp_path):
    mark = uuid.uuid4().hex
    script = (
        "from deploy.processes import Child\n"
        "c = Child('x', ['sleep', '300'], None).start()\n"
        "c.stop(grace=2)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, MARK: mark},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert wait_gone(mark, 5) == {}
    assert "[watchdog]" not in done.stderr


def test_free_ports_are_distinct_and_never_where_the_kernel_picks_its_own():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= p < low for p in ports)


def test_a_readiness_probe_on_a_port_held_by_a_non_http_server_says_not_ready():
    """A gRPC server (an emulator) on the worker's port answered the probe with bytes that are
    no HTTP/1.x status line: the probe says 'not ready' instead of raising."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00 not http\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        probe = http_answers(f"http://127.0.0.1:{server.getsockname()[1]}/")
        assert probe() is False
        thread.join(timeout=5)
