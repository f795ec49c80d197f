"""Historical bars: IB's bar sizes and durations, the combinations it refuses, and the bars of a
request (seeded, so the same seed, instrument, bar size and end give the same bars)."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("US/Eastern")
BAR_SECONDS = {
    "1 secs": 1,
    "5 secs": 5,
    "10 secs": 10,
    "15 secs": 15,
    "30 secs": 30,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": 86400,
    "1 week": 604800,
    "1W": 604800,
    "1 month": 2592000,
    "1M": 2592000,
}
DAY, WEEK, MONTH = 86400, 604800, 2592000
BAD_BAR_SIZE = (
    "Error validating request.-'bP' : cause - Historical data bar size setting is invalid. "
    "Legal ones are: 1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, "
    "10 mins, 15 mins, 20 mins, 30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, "
    "1W, 1M"
)
BAD_DURATION = "Error validating request.-'bQ' : cause - Historical data duration is invalid"
TOO_MANY = "Historical Market Data Service error message:Time length exceed max."
UNIT_SECONDS = {"S": 1, "D": DAY, "W": WEEK, "M": 30 * DAY, "Y": 365 * DAY}
TRADING_DAYS = {"D": 1, "W": 5, "M": 21, "Y": 252}
# IB's smallest bar size for a duration: (longest duration in seconds, smallest bar).
SMALLEST_BAR = (
    (60, 1),
    (120, 1),
    (1800, 1),
    (3600, 5),
    (14400, 10),
    (28800, 30),
    (DAY, 60),
    (2 * DAY, 120),
    (WEEK, 180),
    (30 * DAY, 1800),
    (365 * DAY, DAY),
)
MAX_YEARS = 20
REGULAR_HOURS = (time(9, 30), time(16, 0))
EXTENDED_HOURS = (time(4, 0), time(20, 0))


class BarsRefused(ValueError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Duration:
    count: int
    unit: str  # S D W M Y

    @property
    def seconds(self) -> int:
        return self.count * UNIT_SECONDS[self.unit]

    @property
    def trading_days(self) -> int:
        """Sessions the duration spans (seconds: at least one)."""
        if self.unit == "S":
            return max(1, math.ceil(self.seconds / DAY))
        return self.count * TRADING_DAYS[self.unit]


def check(bar_size: str, duration: str) -> tuple[int, Duration]:
    """(bar seconds, duration) of a request, or BarsRefused with IB's code: 321 for a bar size
    or duration IB does not know, 162 for bars too small for the duration."""
    bar = BAR_SECONDS.get(bar_size.strip())
    if bar is None:
        raise BarsRefused(321, BAD_BAR_SIZE)
    match = re.fullmatch(r"([1-9]\d{0,8}) ([SDWMY])", duration.strip())
    if not match:
        raise BarsRefused(321, BAD_DURATION)
    wanted = Duration(int(match[1]), match[2])
    if wanted.seconds > MAX_YEARS * 365 * DAY:
        raise BarsRefused(162, TOO_MANY)
    smallest = next((b for d, b in SMALLEST_BAR if wanted.seconds <= d), DAY)
    if bar < smallest:
        raise BarsRefused(162, TOO_MANY)
    return bar, wanted


def parse_end(text: str, now: datetime) -> datetime:
    """An endDateTime as IB reads it: empty (now), `YYYYMMDD-HH:MM:SS` (UTC),
    `YYYYMMDD HH:MM:SS [zone]` (zone default US/Eastern) or `YYYYMMDD` (end of that day)."""
    text = text.strip()
    if not text:
        return now.astimezone(EASTERN)
    try:
        if len(text) == 8:
            day = datetime.strptime(text, "%Y%m%d")
            return datetime.combine(day.date(), time(23, 59, 59), EASTERN)
        if text[8] == "-":
            return datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        stamp, _, zone = text.partition(" ")[2].partition(" ")
        at = datetime.strptime(text[:8] + stamp, "%Y%m%d%H:%M:%S")
        return at.replace(tzinfo=ZoneInfo(zone) if zone else EASTERN)
    except (ValueError, IndexError, KeyError) as exc:
        raise BarsRefused(321, f"Error validating request.-'bS' : cause - {exc}") from None


def _session(day: date, sec_type: str, regular: bool) -> tuple[datetime, datetime]:
    if sec_type == "CASH":
        start = datetime.combine(day, time(0, 0), EASTERN)
        return start, start + timedelta(days=1)
    opens, closes = REGULAR_HOURS if regular else EXTENDED_HOURS
    return datetime.combine(day, opens, EASTERN), datetime.combine(day, closes, EASTERN)


def bar_starts(
    end: datetime, bar: int, duration: Duration, sec_type: str, regular: bool
) -> list[datetime]:
    """Start times of the intraday bars of a request, oldest first: bars from each session's
    open that started before `end`, over the duration's trading days (or, for seconds, the
    last duration / bar of them)."""

    def newest_first() -> Iterator[tuple[date, datetime]]:
        day = end.astimezone(EASTERN).date()
        for _ in range(duration.trading_days * 2 + 10):
            if day.weekday() < 5:
                opens, closes = _session(day, sec_type, regular)
                starts = []
                at = opens
                while at < closes and at < end:
                    starts.append(at)
                    at += timedelta(seconds=bar)
                for at in reversed(starts):
                    yield day, at
            day -= timedelta(days=1)

    found: list[datetime] = []
    if duration.unit == "S":
        limit = math.ceil(duration.seconds / bar)
        for _, at in newest_first():
            if len(found) == limit:
                break
            found.append(at)
    else:
        days: set[date] = set()
        for day, at in newest_first():
            if day not in days and len(days) == duration.trading_days:
                break
            days.add(day)
            found.append(at)
    return list(reversed(found))


@dataclass(frozen=True)
class Bar:
    start: datetime | date
    open: float
    high: float
    low: float
    close: float
    volume: int


def walk(anchor: float, count: int, rng: random.Random, step: float) -> list[tuple]:
    """`count` (open, high, low, close, volume) walking back in time from `anchor`, oldest
    first; `step` is the typical move of one bar."""
    rows = []
    close = anchor
    for _ in range(count):
        open_ = close * (1 + rng.gauss(0, step / 2))
        high = max(open_, close) * (1 + abs(rng.gauss(0, step / 3)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, step / 3)))
        volume = rng.randint(1_000, 50_000)
        rows.append((round(open_, 4), round(high, 4), round(low, 4), round(close, 4), volume))
        close = open_ * (1 + rng.gauss(0, step))
    return list(reversed(rows))


def intraday(anchor: float, seed: str, starts: list[datetime], bar: int) -> list[Bar]:
    rng = random.Random(seed)
    step = 0.008 * math.sqrt(bar / 23400)  # a day's move spread over the session's bars
    rows = walk(anchor, len(starts), rng, step)
    return [Bar(at, *row) for at, row in zip(starts, rows, strict=True)]


def aggregate(daily: list[Bar], bar: int) -> list[Bar]:
    """Daily bars into weekly (labelled by the week's Monday) or monthly (the 1st) bars."""
    groups: dict[date, list[Bar]] = {}
    for b in daily:
        day = b.start if isinstance(b.start, date) else b.start.date()
        key = day - timedelta(days=day.weekday()) if bar == WEEK else day.replace(day=1)
        groups.setdefault(key, []).append(b)
    return [
        Bar(
            key,
            group[0].open,
            max(b.high for b in group),
            min(b.low for b in group),
            group[-1].close,
            sum(b.volume for b in group),
        )
        for key, group in sorted(groups.items())
    ]


def label(bar: Bar, format_date: str) -> str:
    """A bar's date as IB sends it: `YYYYMMDD` for daily and longer bars, else
    `YYYYMMDD HH:MM:SS US/Eastern` (formatDate 1) or epoch seconds (formatDate 2)."""
    if not isinstance(bar.start, datetime):
        return bar.start.strftime("%Y%m%d")
    if format_date == "2":
        return str(int(bar.start.timestamp()))
    return bar.start.astimezone(EASTERN).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"
