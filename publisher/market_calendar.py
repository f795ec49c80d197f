"""Planning marks for scheduled runs: a run that falls on an exchange holiday or weekend, after an
early close, or inside IB's daily reset or weekend maintenance window.

For planning only (`schedules apply`, the dashboard's Schedules page): at run time the worker asks
IB (ContractDetails) whether a market is open and never reads a calendar. The calendar comes from
`exchange_calendars` (the publisher extra), read once into an `ExchangeDays` record; the marks are
pure functions of that record and the run's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from worker.gateway.restarts import NEW_YORK, RESET_WINDOW

Kind = Literal["holiday", "weekend", "early-close", "ib-daily-reset", "ib-weekend-maintenance"]
KINDS: tuple[Kind, ...] = (
    "holiday",
    "early-close",
    "weekend",
    "ib-daily-reset",
    "ib-weekend-maintenance",
)
LABELS: dict[Kind, str] = {
    "holiday": "holiday",
    "early-close": "after an early close",
    "weekend": "weekend",
    "ib-daily-reset": "IB's daily reset",
    "ib-weekend-maintenance": "IB's weekend maintenance",
}
DEFAULT_EXCHANGE = "XNYS"
# IB's daily reset window as the gateway's settings refuse it (worker/gateway/restarts.py): a run
# in it may find IB's servers resetting.
DAILY_RESET = RESET_WINDOW
# IB's weekend restart/maintenance for North America: Friday 23:00 ET to Saturday 03:00 ET.
WEEKEND_MAINTENANCE = ((4, time(23, 0)), (5, time(3, 0)))


class CalendarUnavailable(RuntimeError):
    """`exchange_calendars` is not installed (a worker-only install)."""


@dataclass(frozen=True)
class ExchangeDays:
    """What planning needs of one exchange's calendar, from `first` to `last` (its local dates)."""

    exchange: str
    zone: ZoneInfo
    first: date
    last: date
    weekend: frozenset[int]  # weekdays (0 Monday) that are never sessions
    closed: Mapping[date, str]  # other days without a session, with the holiday's name
    early_closes: Mapping[date, datetime]  # sessions that close early, with their close


@dataclass(frozen=True)
class Mark:
    kind: Kind
    detail: str


@dataclass(frozen=True)
class MarkedRun:
    at: datetime
    marks: tuple[Mark, ...]

    def describe(self) -> str:
        return "; ".join(f"{LABELS[m.kind]} ({m.detail})" for m in self.marks)


def _within(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def _in_weekend_maintenance(local: datetime) -> bool:
    (start_day, start_at), (end_day, end_at) = WEEKEND_MAINTENANCE
    return (local.weekday() == start_day and local.time() >= start_at) or (
        local.weekday() == end_day and local.time() < end_at
    )


def ib_marks(moment: datetime) -> tuple[Mark, ...]:
    """IB's reset windows (New York times) a run at `moment` (aware) falls into."""
    local = moment.astimezone(NEW_YORK)
    if _in_weekend_maintenance(local):
        return (Mark("ib-weekend-maintenance", "Fri 23:00 to Sat 03:00 New York"),)
    if _within(local.time(), *DAILY_RESET):
        start, end = (t.strftime("%H:%M") for t in DAILY_RESET)
        return (Mark("ib-daily-reset", f"about {start}-{end} New York"),)
    return ()


def market_marks(moment: datetime, days: ExchangeDays) -> tuple[Mark, ...]:
    """Whether the exchange is closed all day at `moment`, or already closed early."""
    local = moment.astimezone(days.zone)
    day = local.date()
    if not days.first <= day <= days.last:
        return ()
    if day in days.closed:
        return (Mark("holiday", f"{days.exchange} closed: {days.closed[day]}"),)
    if day.weekday() in days.weekend:
        return (Mark("weekend", f"{days.exchange} closed on {local:%A}s"),)
    close = days.early_closes.get(day)
    if close is not None and moment >= close:
        return (
            Mark(
                "early-close", f"{days.exchange} closed at {close.astimezone(days.zone):%H:%M %Z}"
            ),
        )
    return ()


def mark_runs(runs: Iterable[datetime], days: ExchangeDays | None) -> list[MarkedRun]:
    """The runs (aware) that have marks, in order; without `days` only IB's windows."""
    marked = []
    for moment in runs:
        marks = (market_marks(moment, days) if days else ()) + ib_marks(moment)
        if marks:
            marked.append(MarkedRun(moment, marks))
    return marked


def count(runs: Iterable[MarkedRun]) -> dict[Kind, int]:
    """How many runs have each kind of mark (a run with two marks counts under both)."""
    counts: dict[Kind, int] = {}
    for run in runs:
        for mark in run.marks:
            counts[mark.kind] = counts.get(mark.kind, 0) + 1
    return {kind: counts[kind] for kind in KINDS if kind in counts}


def available() -> bool:
    try:
        _library()
    except CalendarUnavailable:
        return False
    return True


def _library() -> Any:
    try:
        import exchange_calendars
    except ImportError:
        raise CalendarUnavailable(
            "exchange_calendars is not installed (pip install 'ib-pubsub-worker[publisher]')"
        ) from None
    return exchange_calendars


@lru_cache(maxsize=8)
def exchange_days(exchange: str, first: date, last: date) -> ExchangeDays:
    """`exchange`'s closed days and early closes from `first` to `last`, from `exchange_calendars`
    (an ISO 10383 MIC such as XNYS, XLON, XSWX). ValueError names an unknown exchange."""
    library = _library()
    try:
        calendar = library.get_calendar(
            exchange,
            start=(first - timedelta(days=7)).isoformat(),
            end=(last + timedelta(days=7)).isoformat(),
        )
    except library.errors.InvalidCalendarName:
        raise ValueError(
            f"unknown exchange {exchange!r}: give a calendar of exchange_calendars, e.g. XNYS"
        ) from None
    zone = ZoneInfo(str(calendar.tz))
    sessions = {s.date() for s in calendar.sessions_in_range(first.isoformat(), last.isoformat())}
    weekend = frozenset(n for n, open_day in enumerate(calendar.weekmask) if open_day == "0")
    names: dict[date, str] = {}
    if calendar.regular_holidays is not None:
        found = calendar.regular_holidays.holidays(
            first.isoformat(), last.isoformat(), return_name=True
        )
        names.update({stamp.date(): str(name) for stamp, name in found.items()})
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    closed = {
        day: names.get(day, "special closure")
        for day in days
        if day not in sessions and day.weekday() not in weekend
    }
    early = {
        stamp.date(): calendar.session_close(stamp).to_pydatetime()
        for stamp in calendar.early_closes
        if first <= stamp.date() <= last and stamp.date() in sessions
    }
    return ExchangeDays(exchange, zone, first, last, weekend, closed, early)
