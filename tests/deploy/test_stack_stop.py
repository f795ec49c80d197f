"""LocalStack.stop(): one child whose stop fails never leaves the others running."""

from __future__ import annotations

import sys

import pytest

from deploy.processes import Child
from deploy.stack import LocalStack, StackOptions
from tests.support import processes_with, wait_until


class BrokenStop(Child):
    """A real child whose stop() fails after stopping it (a log that cannot be closed, say)."""

    def stop(self, grace: float = 10.0) -> None:
        super().stop(grace)
        raise OSError(f"{self.name}: stop failed")


def test_a_failing_stop_still_stops_every_other_child(tmp_path):
    stack = LocalStack(StackOptions(state_dir=tmp_path), quiet=True)
    marker = f"STACK_STOP_TEST_{tmp_path.name}"
    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    for name, kind in (("first", Child), ("middle", BrokenStop), ("last", BrokenStop)):
        stack.children[name] = kind(
            name=name, command=sleep, log_path=tmp_path / f"{name}.log", env={marker: "1"}
        ).start()
    procs = [child.proc for child in stack.children.values()]
    # Each has its own environment once it has exec'd (a child forked a moment ago has ours).
    wait_until(lambda: len(processes_with(marker, "1")) == 3, 30, "the three children running")
    with pytest.raises(OSError, match="last: stop failed"):  # the first failure is the one told
        stack.stop()
    assert stack.children == {}
    assert all(proc.poll() is not None for proc in procs)
    assert processes_with(marker, "1") == []
