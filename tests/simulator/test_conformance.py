"""The conformance script (simulator/conformance.py) passes against the simulator, and fails the
checks a gateway answering otherwise would fail."""

from __future__ import annotations

import subprocess
import sys

from simulator import Simulator
from simulator.conformance import CHECKS, main, run_checks
from simulator.state import State


def test_every_check_passes_against_the_simulator() -> None:
    with Simulator(port=0, control_port=0, seed=2) as sim:
        outcomes = run_checks(
            "127.0.0.1", sim.port, 5, f"http://127.0.0.1:{sim.control_port}", "VTI", True
        )
        assert outcomes == {name: "PASS" for name, _ in CHECKS}
        assert sim.state.faults.market_data_unsubscribed is False  # the 354 check cleaned up


def test_a_gateway_that_answers_otherwise_fails_the_checks() -> None:
    state = State()
    state.faults.read_only = True  # every order refused with 321: no whatIf, no order
    with Simulator(port=0, state=state) as sim:
        outcomes = run_checks("127.0.0.1", sim.port, 5, None, "SPY", True, timeout=2)
    failed = {name for name, outcome in outcomes.items() if outcome.startswith("FAIL")}
    assert failed == {"whatIf", "place/cancel", "executions"}
    assert outcomes["error 354"].startswith("SKIP")  # no control port to provoke it


def test_the_command_exits_non_zero_on_a_failure_and_prints_each_check(capsys) -> None:
    assert main(["--simulator", "--no-fills"]) == 0
    printed = capsys.readouterr().out
    assert "SKIP executions" in printed and "PASS error 321" in printed
    assert printed.count("\n") == len(CHECKS) + 1


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator.conformance", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "--control-port" in done.stdout
