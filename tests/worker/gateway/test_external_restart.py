"""An external gateway in its daily restart: the port closed or refusing, then a handshake that
hangs (logged in, no managed accounts yet); the worker keeps trying, with backoff, within the
time it is given, and then says so with a retryable error."""

from __future__ import annotations

import threading
import time
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import Simulator
from worker.exceptions import GatewayError
from worker.gateway import connect as connect_module
from worker.gateway.connect import EXTERNAL_MAX_POLL_SECONDS, connect, connect_budget, next_poll
from worker.gateway.launchers import Launcher, SimulatorLauncher
from worker.settings import Settings

seconds = st.floats(min_value=0.01, max_value=600, allow_nan=False)


@given(seconds, seconds)
def test_the_poll_doubles_and_never_passes_its_cap(wait, cap):
    after = next_poll(wait, cap)
    assert after >= wait
    assert after <= max(wait, cap)
    if cap > wait * 2:
        assert after == wait * 2


def test_a_gateway_this_process_starts_keeps_its_fixed_poll():
    assert next_poll(0.25, 0.25) == 0.25


@given(seconds, st.lists(st.one_of(st.none(), st.floats(-600, 600, allow_nan=False)), max_size=3))
def test_the_budget_is_the_smallest_limit_and_at_least_a_second(configured, limits):
    budget = connect_budget(configured, *limits)
    given_limits = [configured, *(x for x in limits if x is not None)]
    assert budget == max(1.0, min(given_limits))


def external(port: int) -> Launcher:
    launcher = Launcher(Settings.from_env({"GATEWAY_MODE": "external"}))
    launcher.port = port
    return launcher


def test_connecting_across_a_restart_waits_for_the_gateway_to_come_back():
    with Simulator(port=0, seed=5) as sim:
        port = sim.port
        sim.stop()  # the restart begins: connections are refused
        sim.state.faults.hang_handshake = 1.0  # then the port opens before the login is done
        back = threading.Timer(1.5, sim.start)
        back.start()
        try:
            ib = connect(external(port), client_id=1, timeout=60, poll=0.25)
            try:
                assert ib.managedAccounts() == ["DU1234567"]
            finally:
                ib.disconnect()
        finally:
            back.join()


def test_a_gateway_that_stays_down_past_the_budget_is_a_retryable_error():
    with Simulator(port=0, seed=5) as sim:
        port = sim.port
    with pytest.raises(GatewayError) as failed:
        connect(external(port), client_id=1, timeout=2, poll=0.25)
    assert failed.value.code == "gateway-not-ready"
    assert failed.value.retryable is True
    assert "ConnectionRefusedError" in str(failed.value)


def closed_port() -> int:
    with Simulator(port=0, seed=5) as sim:
        return sim.port


def started_here(port: int) -> Launcher:
    return SimulatorLauncher(Settings.from_env({"IB_GATEWAY_PORT": str(port)}))


@pytest.mark.parametrize(
    ("launcher", "expected"),
    [
        (lambda port: external(port), [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),
        (
            lambda port: SimulatorLauncher(Settings.from_env({"IB_GATEWAY_PORT": str(port)})),
            [0.25] * 7,
        ),
    ],
    ids=["external", "started-here"],
)
def test_an_external_gateway_is_polled_with_backoff(monkeypatch, launcher, expected):
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # recorded, and the clock moves on without waiting
        waits.append(seconds)

    clock = types.SimpleNamespace(monotonic=lambda: time.monotonic() + sum(waits), sleep=sleep)
    monkeypatch.setattr(connect_module, "time", clock)
    with pytest.raises(GatewayError):
        connect(launcher(closed_port()), client_id=1, timeout=20, poll=0.25)
    assert waits[:7] == expected
    assert max(waits) <= EXTERNAL_MAX_POLL_SECONDS
