"""The always-on gateway's calendar: IBC's daily auto-restart (keeps the session, no second
factor), IB's weekly token expiry (Sunday about 01:00 ET: a person approves the next login) and
IBC's weekly closedown after it (ClosedownAt: the gateway stops, its supervisor starts it again and
the fresh login sends the push).

Times are New York wall times, as IB's are. Pure functions: the clock is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MARKET_HOURS = (time(9, 30), time(16, 0))  # regular hours: no restart then
# IB's daily server reset, North America (wraps midnight): from the start of the window long quoted
# (23:45-00:45) to the end of the one IB's system status page gives today (00:15-01:45). One
# definition for the gateway's restart and closedown times and the planner's marks
# (publisher/market_calendar.py).
RESET_WINDOW = (time(23, 45), time(1, 45))
# New York's clock changes on a Sunday at 02:00: in March 02:00-03:00 never happens, in November
# 01:00-02:00 happens twice. A restart or closedown then would be skipped or doubled.
CLOCK_CHANGE = (time(1, 0), time(3, 0))
BEFORE, AFTER = timedelta(minutes=5), timedelta(minutes=10)  # a job this close meets a restart
# IBC reads ClosedownAt's day in the JVM's default locale; the image's is English.
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CLOSEDOWN_AFTER_EXPIRY = timedelta(hours=24)  # the closedown is the first login after IB's expiry
CLOSEDOWN_GRACE = timedelta(minutes=15)  # IBC stopping this soon after ClosedownAt is the closedown
WEEKLY_CLOSEDOWN = "GATEWAY_WEEKLY_CLOSEDOWN"
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


def span(window: tuple[time, time]) -> str:
    """`23:45-01:45`: a window as the messages and the docs give it."""
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def _outside_windows(at: time, what: str, *, sunday: bool = True) -> None:
    """Refuse a time in IB's reset window, or on a Sunday in New York's clock-change hours."""
    if _within(at, *RESET_WINDOW):
        raise ValueError(f"{what} is in IB's daily reset window ({span(RESET_WINDOW)} New York)")
    if sunday and _within(at, *CLOCK_CHANGE):
        raise ValueError(
            f"{what} is in the hours a daylight saving change skips or repeats "
            f"({span(CLOCK_CHANGE)} New York on a Sunday)"
        )


def restart_time(text: str) -> time:
    """GATEWAY_RESTART_TIME: outside regular market hours, IB's reset window and the hours a
    daylight saving change skips or repeats (the restart is daily, so some Sunday has one)."""
    at = _clock(text, "GATEWAY_RESTART_TIME")
    if _within(at, *MARKET_HOURS):
        raise ValueError(f"GATEWAY_RESTART_TIME {text} is in market hours (09:30-16:00 New York)")
    _outside_windows(at, f"GATEWAY_RESTART_TIME {text}")
    return at


def weekly(text: str, what: str = "GATEWAY_WEEKLY_APPROVAL") -> tuple[int, time]:
    """GATEWAY_WEEKLY_APPROVAL or GATEWAY_WEEKLY_CLOSEDOWN, e.g. `Sun 01:00`: weekday (0 Monday)
    and time."""
    day, _, clock = text.strip().partition(" ")
    found = [
        i
        for i, name in enumerate(DAY_NAMES)
        if len(day) >= 3 and name.lower().startswith(day.lower())
    ]
    if not found:
        raise ValueError(f"{what} must be like 'Sun 01:00', got {text!r}")
    return found[0], _clock(clock, f"{what}'s time")


def _week_minutes(day: int, at: time) -> int:
    return day * 24 * 60 + at.hour * 60 + at.minute


@dataclass(frozen=True)
class GatewayCalendar:
    restart: time = time(23, 15)
    approval_day: int = 6
    approval_at: time = time(1, 0)
    closedown_day: int = 6
    closedown_at: time = time(3, 0)

    @classmethod
    def parse(cls, restart: str, approval: str, closedown: str = "Sun 03:00") -> GatewayCalendar:
        """The settings, checked: the closedown comes after IB's weekly expiry (within a day, so
        it is that week's fresh login), outside IB's reset window and a Sunday's clock-change
        hours, and away from the daily restart (the two would overlap)."""
        day, at = weekly(approval)
        calendar = cls(restart_time(restart), day, at, *weekly(closedown, WEEKLY_CLOSEDOWN))
        after = (
            _week_minutes(calendar.closedown_day, calendar.closedown_at) - _week_minutes(day, at)
        ) % (7 * 24 * 60)
        if not 0 < after < CLOSEDOWN_AFTER_EXPIRY.total_seconds() / 60:
            raise ValueError(
                f"{WEEKLY_CLOSEDOWN} {closedown} must be within a day after IB's weekly expiry "
                f"(GATEWAY_WEEKLY_APPROVAL {approval}): the fresh login needs the new week's push"
            )
        _outside_windows(
            calendar.closedown_at,
            f"{WEEKLY_CLOSEDOWN} {closedown}",
            sunday=calendar.closedown_day == 6,
        )
        closedown_day = datetime(2026, 1, 5 + calendar.closedown_day, tzinfo=NEW_YORK)
        if calendar.near_restart(calendar._at(closedown_day, calendar.closedown_at)):
            raise ValueError(
                f"{WEEKLY_CLOSEDOWN} {closedown} is within 5 minutes before to 10 minutes after "
                f"the daily restart ({restart}): move one of them"
            )
        return calendar

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

    def next_closedown(self, now: datetime) -> datetime:
        """IBC's next weekly closedown (ClosedownAt), when the gateway logs in afresh."""
        local = now.astimezone(NEW_YORK)
        ahead = (self.closedown_day - local.weekday()) % 7
        due = self._at(local + timedelta(days=ahead), self.closedown_at)
        if due > local:
            return due
        return self._at(local + timedelta(days=ahead + 7), self.closedown_at)

    def last_closedown(self, now: datetime) -> datetime:
        """The weekly closedown at or before `now` (its fresh login started the week's session)."""
        return self.next_closedown(now) - timedelta(days=7)  # New York wall time, a week before

    def ibc_closedown_at(self, now: datetime) -> str:
        """IBC's ClosedownAt (`Sunday 03:00`, 24 h), in this machine's time zone, as IBC reads it:
        the next closedown's day and time there (the container runs in New York time)."""
        local = self.next_closedown(now).astimezone()
        return f"{DAY_NAMES[local.weekday()]} {local:%H:%M}"

    def just_closed_down(self, moment: datetime, started: datetime | None = None) -> bool:
        """Whether IBC's weekly closedown happened in the 15 minutes before `moment` (its stop
        is then expected, not a failure), after `started`: a process started after the closedown
        (systemd's fresh login) was not stopped by it."""
        last = self.last_closedown(moment)
        if started is not None and started >= last:
            return False
        return last <= moment < last + CLOSEDOWN_GRACE

    def approval_reminder(self, now: datetime, lead: timedelta) -> datetime:
        """When to tell the user that the next weekly closedown asks for an approval."""
        return self.next_closedown(now) - lead

    def near_restart(self, moment: datetime) -> bool:
        """Whether something starting at `moment` meets the daily restart (5 min before it to
        10 min after: a restart takes 60-90 s and may repeat)."""
        restart = self.last_restart(moment + BEFORE)  # the one at most 5 min ahead
        return moment <= restart + AFTER

    def ibc_auto_restart_time(self, now: datetime) -> str:
        """IBC's AutoRestartTime (`hh:mm AM`), in this machine's time zone, as IBC reads it."""
        return self.next_restart(now).astimezone().strftime("%I:%M %p")
