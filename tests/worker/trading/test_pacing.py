"""IB's historical-data pacing limits, kept on the client: a pure clock-driven decision."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.trading.pacing import (
    BURST_SECONDS,
    IDENTICAL_SECONDS,
    MAX_IN_BURST,
    MAX_IN_WINDOW,
    PENALTY_SECONDS,
    WINDOW_SECONDS,
    HistoryRequest,
    Pacing,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(symbol: str = "SPY", duration: str = "1 D", what: str = "TRADES") -> HistoryRequest:
    return HistoryRequest(symbol, "SMART", what, duration=duration, bar_size="1 min")


def grant(pacing: Pacing, clock: Clock, wanted: HistoryRequest) -> float:
    """Wait as told (the caller's loop), send; the time it went."""
    while (wait := pacing.wait(wanted)) > 0:
        clock.now += wait
    pacing.record(wanted)
    return clock.now


requests = st.builds(
    request,
    st.sampled_from(["SPY", "TLT", "QQQ"]),
    st.sampled_from(["1 D", "2 D", "1 W", "3 D", "4 D", "5 D", "6 D", "7 D"]),
    st.sampled_from(["TRADES", "MIDPOINT"]),
)
# Gaps in 1/64 s: exact binary fractions, so the limits are checked without rounding slack.
gaps = st.integers(min_value=0, max_value=64 * 30).map(lambda n: n / 64)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(gaps, requests), min_size=1, max_size=150))
def test_any_sequence_of_granted_requests_obeys_all_three_limits(sequence) -> None:
    clock, sent = Clock(), []
    pacing = Pacing(clock)
    for gap, wanted in sequence:
        clock.now += gap
        sent.append((grant(pacing, clock, wanted), wanted))
    for i, (at, wanted) in enumerate(sent):
        earlier = sent[:i]
        in_window = [t for t, _ in earlier if at - t < WINDOW_SECONDS]
        assert len(in_window) < MAX_IN_WINDOW
        same = [t for t, r in earlier if r.series == wanted.series and at - t < BURST_SECONDS]
        assert len(same) < MAX_IN_BURST
        assert all(at - t >= IDENTICAL_SECONDS for t, r in earlier if r == wanted)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(gaps, requests), min_size=1, max_size=80))
def test_a_request_that_breaks_no_limit_goes_at_once(sequence) -> None:
    """The throttle is not stricter than the limits: a request waits only when one binds."""
    clock, sent = Clock(), []
    pacing = Pacing(clock)
    for gap, wanted in sequence:
        clock.now += gap
        at = clock.now
        window = [t for t, _ in sent if at - t < WINDOW_SECONDS]
        same = [t for t, r in sent if r.series == wanted.series and at - t < BURST_SECONDS]
        twin = [t for t, r in sent if r == wanted and at - t < IDENTICAL_SECONDS]
        free = len(window) < MAX_IN_WINDOW and len(same) < MAX_IN_BURST and not twin
        assert (pacing.wait(wanted) == 0) == free
        sent.append((grant(pacing, clock, wanted), wanted))


def test_an_identical_request_waits_15_seconds() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    pacing.record(request())
    clock.now += 4
    assert pacing.wait(request()) == IDENTICAL_SECONDS - 4
    assert pacing.wait(request(duration="2 D")) == 0


def test_the_sixth_request_for_one_contract_within_2_seconds_waits() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    for n in range(MAX_IN_BURST):
        pacing.record(request(duration=f"{n + 1} D"))
        clock.now += 0.25
    assert pacing.wait(request(duration="9 D")) == BURST_SECONDS - 0.25 * MAX_IN_BURST
    assert pacing.wait(request("TLT", duration="9 D")) == 0  # another contract
    assert pacing.wait(request(duration="9 D", what="MIDPOINT")) == 0  # another tick type


def test_the_61st_request_in_10_minutes_waits_for_the_first_to_age_out() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    for n in range(MAX_IN_WINDOW):
        pacing.record(request(f"S{n}"))
        clock.now += 5
    assert pacing.wait(request("NEW")) == WINDOW_SECONDS - 5 * MAX_IN_WINDOW
    clock.now = 1000.0 + WINDOW_SECONDS
    assert pacing.wait(request("NEW")) == 0


def test_a_reported_violation_holds_everything_and_doubles_until_an_answer() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    assert pacing.violated() == PENALTY_SECONDS
    assert pacing.wait(request("ANY")) == PENALTY_SECONDS
    assert pacing.violated() == 2 * PENALTY_SECONDS
    clock.now += 2 * PENALTY_SECONDS
    assert pacing.wait(request("ANY")) == 0
    pacing.answered()
    assert pacing.violated() == PENALTY_SECONDS
    for _ in range(10):
        penalty = pacing.violated()
    assert penalty == 120.0  # capped
