"""What the always-on gateway tells the user about approvals (docs/live-trading.md):

- ahead of the weekly closedown (GATEWAY_WEEKLY_CLOSEDOWN), whose fresh login asks for an IBKR
  Mobile push, `GATEWAY_APPROVAL_NOTICE_HOURS` before it;
- when a login waits for approval (IBC's second-factor line), once per approval window.

Decisions are pure (the clock is an argument); sending is second_factor's (NOTIFY_URL's webhook,
on a thread of its own). A notice names the trading mode and times only: no account, no user id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from worker.alert_formats import Notice
from worker.gateway.restarts import NEW_YORK, GatewayCalendar
from worker.gateway.second_factor import APPROVAL_SECONDS

REMINDER_CODE = "weekly-approval-ahead"


@dataclass
class ApprovalReminder:
    """Once per weekly closedown, when its reminder time passes while this process runs.

    A process started after the reminder time says nothing for that closedown: the process
    before it (systemd starts a new one after every exit) has said it, or was down. So a
    restart never repeats a reminder, at the cost of missing one whose moment fell into a
    restart (the gateway's 60-90 s)."""

    calendar: GatewayCalendar
    lead: timedelta
    started: datetime
    told: set[datetime] = field(default_factory=set)

    def due(self, now: datetime) -> datetime | None:
        """The closedown to remind of now, or None."""
        if self.lead <= timedelta(0):
            return None
        closedown = self.calendar.next_closedown(now)
        remind_at = closedown - self.lead
        if closedown in self.told or not self.started < remind_at <= now:
            return None
        self.told.add(closedown)
        return closedown


def reminder_notice(mode: str, closedown: datetime) -> Notice:
    new_york = closedown.astimezone(NEW_YORK)
    utc = closedown.astimezone(UTC)
    when = f"{new_york:%a %d %b %H:%M} New York ({utc:%H:%M} UTC)"
    return Notice(
        title=f"IB {mode} gateway: approve the weekly login at {when}",
        text=f"The {mode} always-on gateway closes down at {when} for IB's weekly login. "
        f"Approve the IBKR Mobile push then, within about {APPROVAL_SECONDS} s; until it is "
        f"approved, {mode} intents wait (retryable gateway-not-ready).",
        link="",
        kind=REMINDER_CODE,
        mode=mode,
    )


@dataclass
class WaitingOnce:
    """IBC's second-factor lines to announcements: one per approval window, so a line printed
    twice for one login is one notice (a new login after IB's timeout is a new one)."""

    announce: Callable[[int], None]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    window: timedelta = timedelta(seconds=APPROVAL_SECONDS)
    last: datetime | None = None
    attempts: int = 0

    def __call__(self, attempt: int) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.window:
            return
        self.last = now
        self.attempts += 1
        self.announce(self.attempts)
