"""The simulator's clock and the hours its contract details carry, from the exchange calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import ib_async
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import clock
from simulator.hours import contract_hours, is_open
from simulator.market import default_instruments

SPY, EUR = default_instruments()[0], default_instruments()[4]
ET = "-05:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def day_of(hours: str, day: str) -> str:
    return next(p for p in hours.split(";") if p.startswith(day))


def test_christmas_is_closed_and_the_day_after_thanksgiving_closes_at_one():
    zone, trading, liquid = contract_hours(SPY, at(f"2026-12-25T15:45:00{ET}"))
    assert zone == "US/Eastern"
    assert day_of(liquid, "20261225") == "20261225:CLOSED"
    assert day_of(liquid, "20261228") == "20261228:0930-20261228:1600"
    assert day_of(trading, "20261228") == "20261228:0400-20261228:2000"
    _, _, liquid = contract_hours(SPY, at(f"2026-11-27T13:30:00{ET}"))
    assert day_of(liquid, "20261127") == "20261127:0930-20261127:1300"
    assert day_of(liquid, "20261126") == "20261126:CLOSED"  # Thanksgiving


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2026-12-25T15:45:00-05:00", False),  # Christmas
        ("2026-11-27T13:30:00-05:00", False),  # after the early close
        ("2026-11-27T12:30:00-05:00", True),
        ("2026-12-05T12:00:00-05:00", False),  # a Saturday
        ("2026-12-07T15:45:00-05:00", True),  # a normal Monday
        ("2026-12-07T16:00:00-05:00", False),  # the close itself
        ("2026-12-07T09:29:00-05:00", False),
    ],
)
def test_the_regular_session_follows_the_calendar(when, open_):
    assert is_open(SPY, at(when)) is open_


def test_forex_trades_through_the_week_not_the_weekend():
    _, _, liquid = contract_hours(EUR, at(f"2026-12-09T03:00:00{ET}"))
    assert "20261208:1715-20261209:1700" in liquid
    assert "20261205:CLOSED" not in liquid and "20261212:CLOSED" in liquid
    assert is_open(EUR, at(f"2026-12-09T03:00:00{ET}"))
    assert not is_open(EUR, at(f"2026-12-05T12:00:00{ET}"))


def test_the_clock_moves_what_the_client_sees(connect, sim):
    ib = connect()
    assert sim.call("POST", "/clock", {"now": "2026-12-25T15:45:00-05:00"})["now"].startswith(
        "2026-12-25T20:45"
    )
    now = ib.reqCurrentTime()
    assert abs(now - datetime(2026, 12, 25, 20, 45, tzinfo=UTC)) < timedelta(minutes=1)
    (details,) = ib.reqContractDetails(ib_async.Stock("SPY", "SMART", "USD"))
    assert details.timeZoneId == "US/Eastern"
    assert "20261225:CLOSED" in details.liquidHours
    assert "20261228:0930-20261228:1600" in details.liquidHours
    assert "20261228:0400-20261228:2000" in details.tradingHours


@pytest.mark.parametrize(
    "value", [None, "", "2026-12-25", "2026-12-25T15:45:00", "tomorrow", 1735160700, ["x"]]
)
def test_the_clock_refuses_what_is_not_rfc_3339_with_an_offset(sim, value):
    answer = sim.call("POST", "/clock", {"now": value})
    assert answer["error"].startswith("now: ")
    assert sim.state.clock_offset == 0.0


OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1971, 1, 1), timezones=OFFSETS))
def test_parse_reads_back_any_aware_time(when):
    assert clock.parse(when.isoformat()) == when


@given(st.text(max_size=40))
def test_parse_gives_an_aware_time_or_a_value_error(text):
    try:
        when = clock.parse(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert when.utcoffset() == timedelta(0)


def test_until_the_clock_is_set_every_day_is_open_around_the_clock(connect, sim):
    ib = connect()
    (details,) = ib.reqContractDetails(ib_async.Stock("SPY", "SMART", "USD"))
    today = datetime.now(UTC).astimezone(ZoneInfo("US/Eastern")).date()
    assert f"{today:%Y%m%d}:0000-{today + timedelta(days=1):%Y%m%d}:0000" in details.liquidHours
    assert "CLOSED" not in details.liquidHours


def test_a_market_order_outside_hours_waits_for_the_open(connect, sim):
    ib = connect()
    sim.call("POST", "/clock", {"now": "2026-12-25T15:45:00-05:00"})
    spy = ib.qualifyContracts(ib_async.Stock("SPY", "SMART", "USD"))[0]
    trade = ib.placeOrder(spy, ib_async.MarketOrder("BUY", 3))
    ib.sleep(0.3)
    assert trade.orderStatus.status == "PreSubmitted"
    assert trade.fills == []
    sim.call("POST", "/clock", {"now": "2026-12-26T10:00:00-05:00"})  # Saturday: still held
    ib.sleep(0.3)
    assert trade.orderStatus.status == "PreSubmitted"
    sim.call("POST", "/clock", {"now": "2026-12-28T09:31:00-05:00"})  # Monday's open
    for _ in range(20):
        if trade.orderStatus.status == "Filled":
            break
        ib.sleep(0.1)
    assert trade.orderStatus.status == "Filled"
    assert [f.execution.shares for f in trade.fills] == [3]
    assert trade.fills[0].execution.time.date().isoformat() == "2026-12-28"
