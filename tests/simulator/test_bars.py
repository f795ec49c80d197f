"""Historical bars in IB's sizes and durations, and IB's errors for what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import ib_async as ib_
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import bars
from simulator.bars import BarsRefused, Duration, bar_starts, check, parse_end

FRIDAY_CLOSE = datetime(2026, 11, 20, 16, 0, tzinfo=bars.EASTERN)


@pytest.mark.parametrize(
    ("bar_size", "duration"),
    [
        ("1 secs", "60 S"),
        ("5 secs", "3600 S"),
        ("1 min", "1 D"),
        ("2 mins", "2 D"),
        ("3 mins", "1 W"),
        ("30 mins", "1 M"),
        ("1 hour", "1 M"),
        ("1 day", "1 Y"),
        ("1 week", "5 Y"),
        ("1 month", "10 Y"),
    ],
)
def test_ib_accepts_these_combinations(bar_size: str, duration: str) -> None:
    check(bar_size, duration)


@pytest.mark.parametrize(
    ("bar_size", "duration", "code"),
    [
        ("7 mins", "1 D", 321),
        ("1 days", "1 M", 321),
        ("1 min", "1 Day", 321),
        ("1 min", "0 D", 321),
        ("1 secs", "1 D", 162),
        ("1 min", "1 W", 162),
        ("5 mins", "1 M", 162),
        ("1 hour", "1 Y", 162),
        ("1 day", "30 Y", 162),
    ],
)
def test_ib_refuses_these(bar_size: str, duration: str, code: int) -> None:
    with pytest.raises(BarsRefused) as refused:
        check(bar_size, duration)
    assert refused.value.code == code


@given(st.text(max_size=20), st.text(max_size=20))
def test_any_request_text_is_accepted_or_refused_with_an_ib_code(bar: str, duration: str) -> None:
    try:
        seconds, wanted = check(bar, duration)
    except BarsRefused as exc:
        assert exc.code in (162, 321)
    else:
        assert seconds > 0 and wanted.seconds > 0


@given(st.text(max_size=40))
def test_any_end_text_parses_or_is_refused(text: str) -> None:
    try:
        end = parse_end(text, datetime.now(UTC))
    except BarsRefused as exc:
        assert exc.code == 321
    else:
        assert end.tzinfo is not None


def test_a_day_of_minutes_is_the_regular_session() -> None:
    starts = bar_starts(FRIDAY_CLOSE, 60, Duration(1, "D"), "STK", regular=True)
    assert len(starts) == 390
    assert (starts[0].hour, starts[0].minute, starts[-1].hour, starts[-1].minute) == (9, 30, 15, 59)
    extended = bar_starts(FRIDAY_CLOSE, 3600, Duration(1, "D"), "STK", regular=False)
    assert extended[0].hour == 4


def test_a_weekend_end_gives_the_last_sessions_bars() -> None:
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=bars.EASTERN)
    starts = bar_starts(sunday, 1800, Duration(2, "D"), "STK", regular=True)
    assert {s.date().isoformat() for s in starts} == {"2026-11-19", "2026-11-20"}
    assert len(starts) == 26
    seconds = bar_starts(sunday, 5, Duration(60, "S"), "STK", regular=True)
    assert len(seconds) == 12 and seconds[-1].hour == 15


def test_forex_trades_around_the_clock() -> None:
    starts = bar_starts(FRIDAY_CLOSE, 3600, Duration(1, "D"), "CASH", regular=True)
    assert starts[0].hour == 0 and len(starts) == 16


def test_intraday_weekly_and_monthly_bars_through_ib_async(connect, sim) -> None:
    sim.call("POST", "/faults", {"pacing_limits": False})  # the same request twice, at once
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    end = "20261120 16:00:00 US/Eastern"
    minutes = ib.reqHistoricalData(spy, end, "1 D", "5 mins", "TRADES", True)
    again = ib.reqHistoricalData(spy, end, "1 D", "5 mins", "TRADES", True)
    assert len(minutes) == 78 and list(minutes) == list(again)
    assert minutes[0].date == datetime(2026, 11, 20, 9, 30, tzinfo=bars.EASTERN)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in minutes)
    epoch = ib.reqHistoricalData(spy, end, "1 D", "1 hour", "TRADES", True, formatDate=2)
    assert epoch[0].date == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    weekly = ib.reqHistoricalData(spy, end, "1 Y", "1 week", "TRADES", True)
    assert all(b.date.weekday() == 0 for b in weekly) and 50 <= len(weekly) <= 53
    monthly = ib.reqHistoricalData(spy, end, "2 Y", "1 month", "TRADES", True)
    assert all(b.date.day == 1 for b in monthly) and 24 <= len(monthly) <= 26


def test_a_refused_combination_is_ibs_error_162(connect) -> None:
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append(code)
    assert list(ib.reqHistoricalData(spy, "", "1 Y", "1 min", "TRADES", True)) == []
    assert errors == [162]
