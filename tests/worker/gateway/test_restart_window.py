"""What the worker decides for an intent due while the external gateway restarts (IBC's daily
AutoRestartTime: 60-90 s with the port closed or the login unfinished): with the default
settings it waits the restart out inside its attempt, polling with backoff, and connects at most
one poll (5 s) after the gateway is back; when its TTL ends sooner, the attempt ends retryable
(gateway-not-ready: Pub/Sub delivers it again within the TTL, else it expires). Pure: the poll
schedule and the budget, no gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from worker.gateway.connect import EXTERNAL_MAX_POLL_SECONDS, connect_budget, next_poll
from worker.gateway.restarts import NEW_YORK
from worker.settings import Settings

RESTART_SECONDS = 90.0  # the longest a restart takes (ibeam#150, IBC#290)
FIRST_POLL = 0.25
SETTINGS = Settings.from_env({"GATEWAY_MODE": "external"})
CALENDAR = SETTINGS.gateway_calendar


def attempts(budget: float) -> list[float]:
    """When the connector tries, in seconds from the first try, until its budget ends."""
    at, wait, tries = 0.0, FIRST_POLL, [0.0]
    while at + wait < budget:
        at += wait
        tries.append(at)
        wait = next_poll(wait, EXTERNAL_MAX_POLL_SECONDS)
    return tries


def budget_for(ttl_left: float | None) -> float:
    deadline = SETTINGS.intent_deadline_seconds
    return connect_budget(
        SETTINGS.gateway_connect_timeout_seconds, deadline - min(10.0, deadline / 4), ttl_left
    )


restart_lengths = st.floats(min_value=0, max_value=RESTART_SECONDS, allow_nan=False)
# when the intent arrives, from 5 minutes before the restart to 10 after (schedules apply's warning)
arrivals = st.integers(min_value=-5 * 60, max_value=10 * 60)


@given(restart_lengths, arrivals)
def test_an_intent_due_in_the_restart_window_waits_it_out_in_its_attempt(length, offset):
    restart = datetime(2026, 12, 9, 23, 15, tzinfo=NEW_YORK)
    arrival = restart + timedelta(seconds=offset)
    assert CALENDAR.near_restart(arrival)
    down_for = max(0.0, length - max(0, offset))  # what is left of the restart when it arrives
    tries = attempts(budget_for(ttl_left=None))
    first_up = next(t for t in tries if t >= down_for)  # the first try the gateway answers
    assert first_up - down_for <= EXTERNAL_MAX_POLL_SECONDS
    assert first_up <= budget_for(ttl_left=None)


@given(restart_lengths, st.floats(min_value=-60, max_value=2 * RESTART_SECONDS))
def test_the_ttl_bounds_the_wait_and_a_ttl_past_the_restart_does_not_cut_it(length, ttl):
    budget = budget_for(ttl_left=ttl)
    assert budget <= max(1.0, ttl)  # never waits past the message's expiry (then: redelivery)
    tries = attempts(budget)
    connects = any(t >= length for t in tries)
    if ttl >= length + EXTERNAL_MAX_POLL_SECONDS:
        assert connects  # the restart is waited out in this attempt
    if budget < length:
        assert not connects  # gateway-not-ready, retryable: Pub/Sub delivers it again


def test_the_default_budget_covers_the_longest_restart_with_room_for_a_poll():
    assert budget_for(ttl_left=None) >= RESTART_SECONDS + EXTERNAL_MAX_POLL_SECONDS
    assert not CALENDAR.near_restart(datetime(2026, 12, 9, 23, 26, tzinfo=NEW_YORK))
    assert CALENDAR.near_restart(datetime(2026, 12, 10, 4, 10, tzinfo=UTC))  # 23:10 New York
