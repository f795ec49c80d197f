"""The historical-data gate: pacing waits within the deadline; IB's violations recognised."""

from __future__ import annotations

import time
from types import SimpleNamespace

import ib_async
import pytest

from worker.exceptions import IntentFailed
from worker.trading.historical import Answer, Gate, ask, is_pacing
from worker.trading.pacing import IDENTICAL_SECONDS, PENALTY_SECONDS, Pacing

VIOLATION = (
    162,
    "Historical Market Data Service error message:Historical data request pacing violation",
)
SPY = SimpleNamespace(conId=756733, symbol="SPY", exchange="SMART", localSymbol="SPY")


class Fake:
    """A clock that the gate's sleeps move, and an IB answering from a script."""

    def __init__(self, *answers: Answer) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.asked: list[float] = []
        self.answers = list(answers)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def ask(self, ib, contract, duration, bar_size, timeout) -> Answer:
        self.asked.append(self.now)
        answer = self.answers.pop(0)
        if answer.timed_out:
            self.now += timeout
        return answer

    def gate(self) -> Gate:
        return Gate(Pacing(self.clock), self.sleep, self.clock, self.ask)


def test_ibs_pacing_text_is_pacing_and_other_162s_are_not() -> None:
    assert is_pacing(*VIOLATION)
    assert is_pacing(162, "HMDS error: API scanner subscription cancelled: pacing violation")
    assert not is_pacing(162, "Historical Market Data Service error message:Bar size too small")
    assert not is_pacing(200, "pacing violation")


def test_a_violation_is_waited_out_and_asked_again() -> None:
    fake = Fake(Answer(error=VIOLATION), Answer(bars=["bar"]))
    assert fake.gate().bars(None, SPY, "1 D", "1 min", "SPY", deadline=100.0) == ["bar"]
    assert fake.asked == [0.0, PENALTY_SECONDS]  # also the identical-request rule's interval
    assert PENALTY_SECONDS >= IDENTICAL_SECONDS


def test_a_request_ib_never_answers_counts_as_pacing() -> None:
    fake = Fake(Answer(timed_out=True), Answer(bars=["bar"]))
    assert fake.gate().bars(None, SPY, "1 D", "1 min", "SPY", deadline=500.0) == ["bar"]
    assert len(fake.asked) == 2 and fake.asked[1] - fake.asked[0] >= PENALTY_SECONDS


def test_a_wait_past_the_deadline_fails_retryably_without_sleeping() -> None:
    fake = Fake(Answer(error=VIOLATION))
    with pytest.raises(IntentFailed) as failed:
        fake.gate().bars(None, SPY, "1 D", "1 min", "SPY", deadline=10.0)
    assert failed.value.code == "pacing" and failed.value.retryable
    assert "SPY" in str(failed.value) and "1 pacing violation" in str(failed.value)
    assert fake.slept == [] and fake.now <= 10.0


def test_the_answer_timeout_never_passes_the_deadline() -> None:
    fake = Fake(Answer(timed_out=True))
    with pytest.raises(IntentFailed) as failed:
        fake.gate().bars(None, SPY, "1 D", "1 min", "SPY", deadline=7.0)
    assert failed.value.code == "pacing" and fake.now == 7.0


def test_other_refusals_fail_at_once_not_retryable() -> None:
    fake = Fake(Answer(error=(162, "HMDS error: Bar size too small for duration")))
    with pytest.raises(IntentFailed) as failed:
        fake.gate().bars(None, SPY, "1 W", "1 min", "SPY", deadline=100.0)
    assert failed.value.code == "market-data" and not failed.value.retryable
    assert "IB refused 1 min bars of SPY over '1 W': 162" in str(failed.value)
    assert len(fake.asked) == 1


def test_the_gate_waits_between_identical_requests() -> None:
    fake = Fake(Answer(bars=[1]), Answer(bars=[2]))
    gate = fake.gate()
    gate.bars(None, SPY, "1 D", "1 min", "SPY")
    assert gate.bars(None, SPY, "1 D", "1 min", "SPY") == [2]
    assert fake.asked == [0.0, IDENTICAL_SECONDS]


def test_a_request_the_simulator_never_answers_is_seen_as_unanswered(ib) -> None:
    ib.sim.call("POST", "/faults", {"pacing_silent": True})
    (spy,) = ib.qualifyContracts(ib_async.Stock("SPY", "SMART", "USD"))
    assert ask(ib, spy, "5 D", "1 day", 1.0).bars  # answered
    ib.RequestTimeout = 0.5  # the session's own limit is shorter than the request's
    answer = ask(ib, spy, "5 D", "1 day", 1.0)  # identical within 15 s: no answer at all
    assert answer.timed_out and answer.error is None and answer.bars == []
    assert ib.RequestTimeout == 0.5  # the session's limit is back


def test_the_simulators_violation_comes_back_as_pacing(ib) -> None:
    (spy,) = ib.qualifyContracts(ib_async.Stock("SPY", "SMART", "USD"))
    ask(ib, spy, "5 D", "1 day", 5.0)
    answer = ask(ib, spy, "5 D", "1 day", 5.0)
    assert answer.error is not None and is_pacing(*answer.error) and not answer.timed_out


def test_a_strategys_daily_bars_keep_to_the_intents_deadline(ib) -> None:
    from worker.strategies import StrategyContext

    instruments = {"SPY": {"symbol": "SPY", "secType": "STK", "exchange": "SMART"}}
    spent = StrategyContext("s", {}, "paper", ib, instruments, deadline=time.monotonic() - 1)
    with pytest.raises(IntentFailed) as failed:
        spent.daily_bars("SPY", "5 D")
    assert failed.value.code == "pacing" and failed.value.retryable
    fresh = StrategyContext("s", {}, "paper", ib, instruments, deadline=time.monotonic() + 60)
    assert len(fresh.daily_bars("SPY", "5 D")) == 3
