"""What the always-on gateway tells the user: a reminder ahead of the weekly closedown, once per
closedown and never repeated by a restarted process; a login waiting for approval once per
approval window. Pure: the clock is an argument."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.worker.gateway.ibc_standin import CANARY_USERID
from worker.gateway.approval_notices import (
    REMINDER_CODE,
    ApprovalReminder,
    WaitingOnce,
    reminder_notice,
)
from worker.gateway.restarts import NEW_YORK, GatewayCalendar

CALENDAR = GatewayCalendar()  # closedown Sunday 03:00 New York
CLOSEDOWN = datetime(2026, 12, 13, 3, 0, tzinfo=NEW_YORK)
LEAD = timedelta(hours=3)


def test_the_reminder_comes_once_when_its_time_passes():
    reminder = ApprovalReminder(CALENDAR, LEAD, started=CLOSEDOWN - timedelta(days=2))
    before = CLOSEDOWN - LEAD - timedelta(seconds=1)
    assert reminder.due(before) is None
    assert reminder.due(CLOSEDOWN - LEAD) == CLOSEDOWN
    assert reminder.due(CLOSEDOWN - LEAD + timedelta(seconds=1)) is None  # told already
    assert reminder.due(CLOSEDOWN - timedelta(minutes=1)) is None
    next_week = CLOSEDOWN + timedelta(days=7)
    assert reminder.due(next_week - LEAD) == next_week  # and again the week after


def test_a_process_started_after_the_reminder_time_does_not_repeat_it():
    # systemd started the gateway again (IBC stopped) an hour after the reminder went out
    restarted = CLOSEDOWN - LEAD + timedelta(hours=1)
    reminder = ApprovalReminder(CALENDAR, LEAD, started=restarted)
    assert reminder.due(restarted + timedelta(seconds=1)) is None
    assert reminder.due(CLOSEDOWN - timedelta(seconds=1)) is None


def test_a_lead_of_zero_turns_the_reminder_off():
    reminder = ApprovalReminder(CALENDAR, timedelta(0), started=CLOSEDOWN - timedelta(days=1))
    assert reminder.due(CLOSEDOWN - timedelta(seconds=1)) is None


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1)),
    st.lists(st.integers(min_value=1, max_value=4 * 3600), min_size=1, max_size=60),
    st.integers(min_value=0, max_value=24),
)
def test_each_closedown_is_reminded_at_most_once_and_never_late(start, steps, hours):
    now = start.replace(tzinfo=UTC)
    lead = timedelta(hours=hours)
    reminder = ApprovalReminder(CALENDAR, lead, started=now)
    told: list[datetime] = []
    for step in steps:
        now += timedelta(seconds=step)
        due = reminder.due(now)
        if due is not None:
            assert due - lead <= now < due  # before the closedown, after the reminder time
            told.append(due)
    assert len(told) == len(set(told))


def test_the_reminder_says_when_in_new_york_and_utc_and_names_no_account():
    notice = reminder_notice("live", CLOSEDOWN)
    assert notice.kind == REMINDER_CODE and notice.mode == "live"
    assert "Sun 13 Dec 03:00 New York (08:00 UTC)" in notice.title
    assert "IBKR Mobile" in notice.text and "180 s" in notice.text
    assert CANARY_USERID not in notice.title + notice.text
    assert "DU" not in notice.text  # no account id (IB's paper accounts start DU, live U)


def test_second_factor_lines_of_one_login_are_one_announcement():
    told: list[int] = []
    now = [datetime(2026, 12, 13, 6, 30, tzinfo=UTC)]
    waiting = WaitingOnce(told.append, clock=lambda: now[0])
    waiting(1)
    now[0] += timedelta(seconds=5)
    waiting(2)  # the same line again for the same login
    assert told == [1]
    now[0] += timedelta(seconds=180)  # IB's window passed: IBC logged in again
    waiting(3)
    assert told == [1, 2]
