"""Standard five-field cron expressions, as Cloud Scheduler accepts them (the publisher's schedules
and the worker's `watch` intent)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
WEEKDAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, WEEKDAYS),
)


class CronError(ValueError):
    pass


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not re.fullmatch(r"\d+", text):
        raise CronError(
            f"{name}: {text!r} is not a number"
            + (f" or one of {', '.join(names)}" if names else "")
        )
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name}: {value} is outside {low}-{high}")
    return value


def validate(expression: str) -> None:
    """Raise CronError saying which field is wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(
            f"{expression!r}: expected 5 fields (minute hour day month weekday), got {len(parts)}"
        )
    for part, (name, low, high, names) in zip(parts, FIELDS, strict=True):
        for item in part.split(","):
            base, _, step = item.partition("/")
            if step and (not (step.isascii() and step.isdigit()) or int(step) == 0):
                raise CronError(f"{name}: bad step {step!r} in {item!r}")
            if base == "*":
                continue
            start, _, end = base.partition("-")
            first = _value(start, name, low, high, names)
            if end and _value(end, name, low, high, names) < first:
                raise CronError(f"{name}: range {base!r} runs backwards")


def _expand(part: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in part.split(","):
        base, _, step = item.partition("/")
        every = int(step) if step else 1
        if base == "*":
            start, end = low, high
        else:
            first, _, last = base.partition("-")
            start = _value(first, "", low, high, names)
            end = _value(last, "", low, high, names) if last else (high if step else start)
        values.update(range(start, end + 1, every))
    return values


def next_runs(expression: str, zone: tzinfo, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` times after `after` that the expression fires, in time zone `zone`
    (a day matches on day of month OR day of week when both are restricted, as in unix cron;
    wall times skipped by a daylight-saving change do not fire)."""
    validate(expression)
    parts = expression.split()
    minutes, hours, days, months, weekdays = (
        sorted(_expand(part, low, high, names))
        for part, (_, low, high, names) in zip(parts, FIELDS, strict=True)
    )
    weekdays = sorted({d % 7 for d in weekdays})
    any_day, any_weekday = parts[2].startswith("*"), parts[4].startswith("*")
    day, found = after.astimezone(zone).date(), []
    for _ in range(366 * 8):  # 29 February on a Monday can be years away
        by_day, by_weekday = day.day in days, day.isoweekday() % 7 in weekdays
        if day.month in months and (
            (by_day and by_weekday) if any_day or any_weekday else (by_day or by_weekday)
        ):
            for hour in hours:
                for minute in minutes:
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if moment.astimezone(UTC).astimezone(zone).hour != hour:
                        continue  # does not exist on this day (clocks went forward)
                    if moment > after:
                        found.append(moment)
                        if len(found) == count:
                            return found
        day += timedelta(days=1)
    return found
