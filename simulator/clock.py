"""The simulator's settable clock: `POST /clock {"now": "<RFC 3339>"}` moves it, time flows on
from there, and every time the simulator reports (current time, executions, bars, hours) follows
it. The offset lives in the state, so each simulator has its own.

Until the clock is set, contract details show every day open around the clock (tests and demos
trade whatever hour they run at); once it is set, hours come from the exchange calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.state import State


def now(state: State) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=state.clock_offset)


def parse(text: object) -> datetime:
    """An RFC 3339 date-time with its offset (`2026-12-25T15:45:00-05:00`, `...Z`); ValueError
    for anything else, a naive time included (whose zone would be a guess)."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError(f"expected an RFC 3339 date-time with an offset, got {text!r}")
    when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no offset (add Z or +HH:MM)")
    return when.astimezone(UTC)


def set_now(state: State, when: datetime) -> None:
    """Move the clock, and from now on report hours from the exchange calendar."""
    state.clock_offset = (when - datetime.now(UTC)).total_seconds()
    state.calendar = True
