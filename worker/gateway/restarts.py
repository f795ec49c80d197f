"""The always-on gateway's calendar: IBC's daily auto-restart (keeps the session, no second
factor) and IB's weekly token expiry (Sunday about 01:00 ET: a person approves the next login).

Times are New York wall times, as IB's are. Pure functions: the clock is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MARKET_HOURS = (time(9, 30), time(16, 0))  # regular hours: no restart then
RESET_WINDOW = (time(23, 45), time(0, 45))  # IB's daily server reset (wraps midnight)
BEFORE, AFTER = timedelta(minutes=5), timedelta(minutes=10)  # a job this close meets a restart
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(text: str, what: str) -> time:
    found = CLOCK.match(text.strip())
    if not found:
        raise ValueError(f"{what} must be HH:MM (24 h, New York time), got {text!r}")
    return time(int(found[1]), int(found[2]))


def _within(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def restart_time(text: str) -> time:
    """GATEWAY_RESTART_TIME: outside regular market hours and IB's reset window."""
    at = _clock(text, "GATEWAY_RESTART_TIME")
    if _within(at, *MARKET_HOURS):
        raise ValueError(f"GATEWAY_RESTART_TIME {text} is in market hours (09:30-16:00 New York)")
    if _within(at, *RESET_WINDOW):
        raise ValueError(
            f"GATEWAY_RESTART_TIME {text} is in IB's daily reset window (23:45-00:45 New York)"
        )
    return at


def weekly(text: str) -> tuple[int, time]:
    """GATEWAY_WEEKLY_APPROVAL, e.g. `Sun 01:00`: weekday (0 Monday) and time."""
    day, _, clock = text.strip().partition(" ")
    if day[:3].lower() not in WEEKDAYS:
        raise ValueError(f"GATEWAY_WEEKLY_APPROVAL must be like 'Sun 01:00', got {text!r}")
    return WEEKDAYS.index(day[:3].lower()), _clock(clock, "GATEWAY_WEEKLY_APPROVAL's time")


@dataclass(frozen=True)
class GatewayCalendar:
    restart: time = time(23, 15)
    approval_day: int = 6
    approval_at: time = time(1, 0)

    @classmethod
    def parse(cls, restart: str, approval: str) -> GatewayCalendar:
        day, at = weekly(approval)
        return cls(restart_time(restart), day, at)

    def _at(self, day: datetime, at: time) -> datetime:
        return datetime.combine(day.date(), at, NEW_YORK)

    def next_restart(self, now: datetime) -> datetime:
        local = now.astimezone(NEW_YORK)
        today = self._at(local, self.restart)
        return today if today > local else self._at(local + timedelta(days=1), self.restart)

    def last_restart(self, now: datetime) -> datetime:
        local = now.astimezone(NEW_YORK)
        today = self._at(local, self.restart)
        return today if today <= local else self._at(local - timedelta(days=1), self.restart)

    def next_approval(self, now: datetime) -> datetime:
        local = now.astimezone(NEW_YORK)
        ahead = (self.approval_day - local.weekday()) % 7
        due = self._at(local + timedelta(days=ahead), self.approval_at)
        return due if due > local else self._at(local + timedelta(days=ahead + 7), self.approval_at)

    def near_restart(self, moment: datetime) -> bool:
        """Whether something starting at `moment` meets the daily restart (5 min before it to
        10 min after: a restart takes 60-90 s and may repeat)."""
        restart = self.last_restart(moment + BEFORE)  # the one at most 5 min ahead
        return moment <= restart + AFTER

    def ibc_auto_restart_time(self, now: datetime) -> str:
        """IBC's AutoRestartTime (`hh:mm AM`), in this machine's time zone, as IBC reads it."""
        return self.next_restart(now).astimezone().strftime("%I:%M %p")
