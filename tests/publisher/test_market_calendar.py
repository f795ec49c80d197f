"""The planning marks: a closed market (holiday, weekend, after an early close) and IB's reset
windows, as pure functions of an ExchangeDays record and the run's time; the record read from
exchange_calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher import market_calendar
from publisher.market_calendar import ExchangeDays, Mark, mark_runs

NY = ZoneInfo("America/New_York")
ZURICH = ZoneInfo("Europe/Zurich")
# A made-up exchange: no library needed, so the marks' rules are tested alone.
DAYS = ExchangeDays(
    exchange="TEST",
    zone=NY,
    first=date(2026, 11, 1),
    last=date(2027, 12, 31),
    weekend=frozenset({5, 6}),
    closed={date(2026, 12, 25): "Christmas", date(2026, 11, 26): "Thanksgiving"},
    early_closes={date(2026, 11, 27): datetime(2026, 11, 27, 13, 0, tzinfo=NY)},
)
moments = st.datetimes(
    min_value=datetime(2026, 11, 2), max_value=datetime(2027, 12, 30), timezones=st.just(UTC)
)


def kinds(moment: datetime, days: ExchangeDays | None = DAYS) -> list[str]:
    return [m.kind for run in mark_runs([moment], days) for m in run.marks]


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def test_a_holiday_is_named_whatever_the_hour():
    (run,) = mark_runs([ny(2026, 12, 25, 15, 45)], DAYS)
    assert run.marks == (Mark("holiday", "TEST closed: Christmas"),)
    assert kinds(ny(2026, 12, 25, 9, 0)) == ["holiday"]
    assert kinds(ny(2026, 12, 24, 15, 45)) == []


def test_after_an_early_close_and_not_before_it():
    assert kinds(ny(2026, 11, 27, 12, 59)) == []
    (run,) = mark_runs([ny(2026, 11, 27, 13, 0)], DAYS)
    assert run.marks == (Mark("early-close", "TEST closed at 13:00 EST"),)
    assert run.describe() == "after an early close (TEST closed at 13:00 EST)"
    assert kinds(ny(2026, 11, 27, 15, 45)) == ["early-close"]


def test_a_normal_close_is_no_mark():
    assert kinds(ny(2026, 12, 7, 16, 30)) == []


def test_weekends_and_the_ib_windows():
    assert kinds(ny(2026, 12, 5, 15, 45)) == ["weekend"]  # Saturday
    assert kinds(ny(2026, 12, 6, 12, 0)) == ["weekend"]  # Sunday
    assert kinds(ny(2026, 12, 8, 23, 44)) == []
    assert kinds(ny(2026, 12, 8, 23, 45)) == ["ib-daily-reset"]
    assert kinds(ny(2026, 12, 9, 1, 44)) == ["ib-daily-reset"]
    assert kinds(ny(2026, 12, 9, 1, 45)) == []
    assert kinds(ny(2026, 12, 11, 22, 59)) == []  # Friday
    assert kinds(ny(2026, 12, 11, 23, 0)) == ["ib-weekend-maintenance"]
    assert kinds(ny(2026, 12, 12, 2, 59)) == ["weekend", "ib-weekend-maintenance"]
    assert kinds(ny(2026, 12, 12, 3, 0)) == ["weekend"]


def test_without_a_calendar_only_ib_s_windows_are_marked():
    assert kinds(ny(2026, 12, 25, 15, 45), None) == []
    assert kinds(ny(2026, 12, 25, 0, 15), None) == ["ib-daily-reset"]


def test_days_outside_the_calendar_s_range_are_not_guessed():
    assert kinds(ny(2028, 12, 25, 15, 45)) == []


@given(moments)
def test_the_marks_depend_on_the_instant_not_the_zone_it_is_written_in(moment):
    assert kinds(moment) == kinds(moment.astimezone(NY)) == kinds(moment.astimezone(ZURICH))


@given(moments)
def test_a_weekday_session_before_its_close_is_never_a_market_mark(moment):
    local = moment.astimezone(NY)
    market = {"holiday", "weekend", "early-close"} & set(kinds(moment))
    ordinary = local.weekday() < 5 and local.date() not in DAYS.closed
    early = DAYS.early_closes.get(local.date())
    if ordinary and (early is None or moment < early):
        assert not market
    else:
        assert len(market) == 1


@given(st.lists(moments, max_size=30))
def test_marked_runs_keep_their_order_and_counts_add_up(runs):
    runs = sorted(runs)
    marked = mark_runs(runs, DAYS)
    assert [r.at for r in marked] == [r for r in runs if kinds(r)]
    counts = market_calendar.count(marked)
    assert sum(counts.values()) == sum(len(r.marks) for r in marked)
    assert list(counts) == [k for k in market_calendar.KINDS if k in counts]


def test_the_nyse_calendar_from_exchange_calendars():
    days = market_calendar.exchange_days("XNYS", date(2026, 11, 1), date(2027, 12, 31))
    assert days.zone == NY and days.weekend == {5, 6}
    assert days.closed[date(2026, 12, 25)] == "Christmas"
    assert days.closed[date(2027, 3, 26)] == "Good Friday"
    assert date(2026, 12, 26) not in days.closed  # a Saturday: a weekend, not a holiday
    early = days.early_closes[date(2026, 11, 27)]
    assert early.astimezone(NY).time().isoformat() == "13:00:00"
    assert set(days.early_closes) == {date(2026, 11, 27), date(2026, 12, 24), date(2027, 11, 26)}
    assert kinds(datetime(2026, 11, 27, 15, 45, tzinfo=NY), days) == ["early-close"]


def test_an_unknown_exchange_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown exchange 'NOPE'"):
        market_calendar.exchange_days("NOPE", date(2026, 1, 1), date(2026, 2, 1))


def test_without_the_library_it_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "exchange_calendars":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    assert market_calendar.available() is False
    with pytest.raises(market_calendar.CalendarUnavailable, match=r"\[publisher\]"):
        market_calendar.exchange_days("XNYS", date(2030, 1, 1), date(2030, 1, 2) + timedelta(1))
