"""Standard five-field cron expressions, as Cloud Scheduler accepts them."""

from __future__ import annotations

import re

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
WEEKDAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
FIELDS = (
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
            if step and (not step.isdigit() or int(step) == 0):
                raise CronError(f"{name}: bad step {step!r} in {item!r}")
            if base == "*":
                continue
            start, _, end = base.partition("-")
            first = _value(start, name, low, high, names)
            if end and _value(end, name, low, high, names) < first:
                raise CronError(f"{name}: range {base!r} runs backwards")
