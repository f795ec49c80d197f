"""The always-on gateway's calendar: the daily restart time's rules, the next restart, the weekly
approval, and what counts as near a restart (New York wall times, daylight saving included)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.exceptions import ConfigError
from worker.gateway.restarts import NEW_YORK, GatewayCalendar, restart_time, weekly
from worker.settings import Settings

moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
CALENDAR = GatewayCalendar()  # 23:15, Sunday 01:00


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("10:00", "market hours"),
        ("09:30", "market hours"),
        ("23:50", "reset window"),
        ("00:30", "reset window"),
        ("01:30", "reset window"),  # IB's status page: 00:15-01:45
        ("02:30", "daylight saving"),  # skipped on a March Sunday
        ("01:44", "reset window"),
        ("25:00", "HH:MM"),
        ("11 PM", "HH:MM"),
        ("", "HH:MM"),
    ],
)
def test_a_restart_time_in_market_hours_or_ib_s_reset_window_is_refused(text, words):
    with pytest.raises(ValueError, match=words):
        restart_time(text)
    with pytest.raises(ConfigError, match=words):
        Settings.from_env({"GATEWAY_RESTART_TIME": text})


@pytest.mark.parametrize("text", ["16:00", "23:15", "04:00", "05:00", "9:29"])
def test_times_outside_both_windows_are_accepted(text):
    assert Settings.from_env({"GATEWAY_RESTART_TIME": text}).gateway_calendar.restart == (
        restart_time(text)
    )


@pytest.mark.parametrize("text", ["Sunday 1:00", "sun 01:00", "Sat 23:30"])
def test_the_weekly_approval_reads_a_day_and_a_time(text):
    day, at = weekly(text)
    assert day in (5, 6) and at in (time(1, 0), time(23, 30))


@pytest.mark.parametrize("text", ["01:00", "Sonntag 01:00", "Sun", "Sun 1"])
def test_a_bad_weekly_approval_is_a_config_error(text):
    with pytest.raises(ConfigError, match="GATEWAY_WEEKLY_APPROVAL"):
        Settings.from_env({"GATEWAY_WEEKLY_APPROVAL": text})


@given(moments)
def test_the_next_restart_is_the_first_after_now_at_the_set_wall_time(now):
    nxt, last = CALENDAR.next_restart(now), CALENDAR.last_restart(now)
    assert last <= now < nxt
    assert nxt - last in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
    for moment in (nxt, last):
        local = moment.astimezone(NEW_YORK)
        assert (local.hour, local.minute) == (23, 15)


@given(moments)
def test_the_weekly_approval_is_the_next_sunday_one_o_clock(now):
    due = CALENDAR.next_approval(now).astimezone(NEW_YORK)
    assert (due.weekday(), due.hour, due.minute) == (6, 1, 0)
    assert now < due <= now + timedelta(days=7, hours=1)


def test_in_winter_the_restart_is_04_15_utc_and_in_summer_03_15():
    assert CALENDAR.next_restart(datetime(2026, 1, 10, 12, tzinfo=UTC)) == datetime(
        2026, 1, 11, 4, 15, tzinfo=UTC
    )
    assert CALENDAR.next_restart(datetime(2026, 7, 10, 12, tzinfo=UTC)) == datetime(
        2026, 7, 11, 3, 15, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("hour", "minute", "near"),
    [
        (23, 9, False),
        (23, 10, True),
        (23, 15, True),
        (23, 25, True),
        (23, 26, False),
        (9, 0, False),
    ],
)
def test_near_the_restart_means_five_minutes_before_to_ten_after(hour, minute, near):
    moment = datetime(2026, 3, 4, hour, minute, tzinfo=NEW_YORK)
    assert CALENDAR.near_restart(moment) is near


def test_ibc_gets_the_time_in_the_machine_s_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    import time as clock

    clock.tzset()
    try:
        assert CALENDAR.ibc_auto_restart_time(datetime(2026, 3, 4, 12, tzinfo=UTC)) == "11:15 PM"
    finally:
        monkeypatch.delenv("TZ")
        clock.tzset()


@pytest.mark.parametrize(
    ("closedown", "words"),
    [
        ("Sun 00:30", "within a day after"),  # before IB's expiry: last week's session
        ("Sun 01:00", "within a day after"),  # at the expiry itself
        ("Mon 02:00", "within a day after"),  # more than a day later
        ("Sun 23:50", "reset window"),
        ("Sun 01:30", "reset window"),  # IB's status page: 00:15-01:45
        ("Mon 00:59", "reset window"),
        ("Sun 02:30", "daylight saving"),  # never happens on a March Sunday
        ("Sun 01:50", "daylight saving"),  # happens twice on a November Sunday
        ("Sun 23:20", "daily restart"),  # five minutes after the 23:15 restart
        ("Sunday", "HH:MM"),
        ("Sundae 01:30", "like 'Sun 01:00'"),
        ("Someday 01:30", "like 'Sun 01:00'"),
        ("Sun 1:30 AM", "HH:MM"),
    ],
)
def test_a_weekly_closedown_outside_the_day_after_ib_s_expiry_is_refused(closedown, words):
    with pytest.raises(ValueError, match=words):
        GatewayCalendar.parse("23:15", "Sun 01:00", closedown)
    with pytest.raises(ConfigError, match=words):
        Settings.from_env({"GATEWAY_WEEKLY_CLOSEDOWN": closedown})


@pytest.mark.parametrize("closedown", ["Sun 03:00", "sunday 09:00", "Sun 13:00", "Sun 23:40"])
def test_a_weekly_closedown_within_the_day_after_the_expiry_is_accepted(closedown):
    calendar = GatewayCalendar.parse("23:15", "Sun 01:00", closedown)
    assert Settings.from_env({"GATEWAY_WEEKLY_CLOSEDOWN": closedown}).gateway_calendar == calendar


@given(moments)
def test_the_next_closedown_is_the_first_sunday_03_00_after_now(now):
    due = CALENDAR.next_closedown(now).astimezone(NEW_YORK)
    assert (due.weekday(), due.time()) == (6, time(3, 0))
    assert now < due <= now + timedelta(days=7, hours=1)  # an hour more across a DST change
    assert due > CALENDAR.next_approval(now) - timedelta(days=7)  # after the expiry it follows


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        ("America/New_York", datetime(2026, 3, 4, 12, tzinfo=UTC), "Sunday 03:00"),
        # Zurich: 07:30 in winter; in March Europe is still on winter time a week after the US
        ("Europe/Zurich", datetime(2026, 1, 7, 12, tzinfo=UTC), "Sunday 09:00"),
        ("Europe/Zurich", datetime(2026, 3, 11, 12, tzinfo=UTC), "Sunday 08:00"),
        ("Asia/Tokyo", datetime(2026, 1, 7, 12, tzinfo=UTC), "Sunday 17:00"),
        ("Pacific/Auckland", datetime(2026, 7, 1, 12, tzinfo=UTC), "Sunday 19:00"),
        ("Pacific/Honolulu", datetime(2026, 7, 1, 12, tzinfo=UTC), "Saturday 21:00"),
    ],
)
def test_ibc_gets_the_closedown_as_day_and_24_h_time_in_the_machine_s_zone(
    monkeypatch, zone, now, expected
):
    monkeypatch.setenv("TZ", zone)
    import time as clock

    clock.tzset()
    try:
        assert CALENDAR.ibc_closedown_at(now) == expected
    finally:
        monkeypatch.delenv("TZ")
        clock.tzset()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 12, 13, 2, 59, tzinfo=NEW_YORK), False),
        (datetime(2026, 12, 13, 3, 0, tzinfo=NEW_YORK), True),
        (datetime(2026, 12, 13, 3, 14, tzinfo=NEW_YORK), True),
        (datetime(2026, 12, 13, 3, 15, tzinfo=NEW_YORK), False),
        (datetime(2026, 12, 9, 3, 5, tzinfo=NEW_YORK), False),  # a Wednesday
    ],
)
def test_just_closed_down_is_the_quarter_hour_after_the_weekly_closedown(moment, expected):
    assert CALENDAR.just_closed_down(moment) is expected


def _happens_once(day: datetime, at: time) -> bool:
    """Whether New York's wall time `at` on `day` exists and is not repeated."""
    first = datetime.combine(day.date(), at, NEW_YORK)
    second = first.replace(fold=1)
    exists = first.astimezone(UTC).astimezone(NEW_YORK).replace(tzinfo=None) == first.replace(
        tzinfo=None
    )
    return exists and first.utcoffset() == second.utcoffset()


CLOCK_CHANGE_SUNDAYS = [datetime(2026, 3, 8), datetime(2026, 11, 1)]


@given(st.integers(min_value=0, max_value=24 * 60 - 1))
def test_an_accepted_closedown_happens_once_on_the_clock_change_sundays(minute):
    """Before, the default `Sun 01:30` was accepted: on 1 Nov 2026 01:30 happens twice (IBC would
    close down twice, two pushes), and `Sun 02:30` never happens on 8 Mar (no closedown)."""
    closedown = f"Sun {minute // 60:02d}:{minute % 60:02d}"
    try:
        calendar = GatewayCalendar.parse("23:15", "Sun 00:00", closedown)
    except ValueError:
        return
    for sunday in CLOCK_CHANGE_SUNDAYS:
        assert _happens_once(sunday, calendar.closedown_at), closedown


@given(st.integers(min_value=0, max_value=24 * 60 - 1))
def test_an_accepted_restart_time_happens_once_on_the_clock_change_sundays(minute):
    text = f"{minute // 60:02d}:{minute % 60:02d}"
    try:
        at = restart_time(text)
    except ValueError:
        return
    for sunday in CLOCK_CHANGE_SUNDAYS:
        assert _happens_once(sunday, at), text


def test_one_reset_window_for_the_gateway_s_settings_and_the_planner():
    from publisher import market_calendar
    from worker.gateway import restarts

    assert market_calendar.DAILY_RESET == restarts.RESET_WINDOW == (time(23, 45), time(1, 45))
    for moment in (time(23, 45), time(0, 15), time(1, 44)):
        with pytest.raises(ValueError, match="reset window"):
            restart_time(f"{moment:%H:%M}")
        planned = datetime.combine(datetime(2026, 12, 9).date(), moment, NEW_YORK)  # a Wednesday
        assert [m.kind for m in market_calendar.ib_marks(planned)] == ["ib-daily-reset"]


def test_only_a_process_running_before_the_closedown_was_stopped_by_it():
    closedown = datetime(2026, 12, 13, 3, 0, tzinfo=NEW_YORK)
    later = closedown + timedelta(minutes=5)
    assert CALENDAR.just_closed_down(later, started=closedown - timedelta(days=2))
    assert not CALENDAR.just_closed_down(later, started=closedown + timedelta(seconds=30))
