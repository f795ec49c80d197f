"""Open or closed, from IB's ContractDetails alone (parsed in milliseconds, no calendar)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.exceptions import IntentFailed
from worker.trading import market_hours as mh

ET = ZoneInfo("US/Eastern")
WEEK = (
    "20261224:0930-20261224:1300;20261225:CLOSED;20261226:CLOSED;20261227:CLOSED;"
    "20261228:0930-20261228:1600"
)


def et(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ET)


def details(liquid: str = WEEK, trading: str = "", zone: str = "US/Eastern"):
    return SimpleNamespace(liquidHours=liquid, tradingHours=trading, timeZoneId=zone)


def test_sessions_read_ibs_format_and_skip_closed_days():
    found = mh.sessions(WEEK, "US/Eastern")
    assert [(s.start, s.end) for s in found] == [
        (et(2026, 12, 24, 9, 30), et(2026, 12, 24, 13, 0)),
        (et(2026, 12, 28, 9, 30), et(2026, 12, 28, 16, 0)),
    ]


def test_the_older_format_and_sessions_past_midnight():
    found = mh.sessions("20261228:0930-1600,1700-0200;20261229:CLOSED", "US/Eastern")
    assert [(s.start, s.end) for s in found] == [
        (et(2026, 12, 28, 9, 30), et(2026, 12, 28, 16, 0)),
        (et(2026, 12, 28, 17, 0), et(2026, 12, 29, 2, 0)),
    ]


@pytest.mark.parametrize(
    ("now", "open_", "next_"),
    [
        (et(2026, 12, 25, 15, 45), False, et(2026, 12, 28, 9, 30)),  # Christmas
        (et(2026, 12, 24, 13, 30), False, et(2026, 12, 28, 9, 30)),  # after an early close
        (et(2026, 12, 24, 12, 59), True, et(2026, 12, 28, 9, 30)),
        (et(2026, 12, 26, 12, 0), False, et(2026, 12, 28, 9, 30)),  # a Saturday
        (et(2026, 12, 28, 15, 45), True, None),
        (et(2026, 12, 28, 16, 0), False, None),  # the close itself; nothing listed after
    ],
)
def test_open_now_and_the_next_open(now, open_, next_):
    found = mh.sessions(WEEK, "US/Eastern")
    assert mh.is_open(now, found) is open_
    assert mh.next_open(now, found) == next_


def test_closed_now_names_each_closed_instrument_with_its_next_open():
    forex = details("20261224:1715-20261225:1700;20261227:1715-20261228:1700")
    closed = mh.closed_now(et(2026, 12, 25, 15, 45), {"SPY": details(), "EUR.USD": forex})
    assert closed == [mh.Closed("SPY", et(2026, 12, 28, 9, 30))]
    said = mh.report(closed, "skip")
    assert said["closed"] == {"SPY": {"nextOpen": "2026-12-28T09:30:00-05:00"}}
    assert "no order placed" in said["note"]
    assert "IB holds them" in mh.report(closed, "queue")["note"]


def test_trading_hours_serve_when_liquid_hours_are_missing():
    only_trading = details(liquid="", trading=WEEK)
    assert mh.closed_now(et(2026, 12, 28, 10, 0), {"SPY": only_trading}) == []


@pytest.mark.parametrize(
    ("d", "words"),
    [
        (details(liquid=""), "no trading hours"),
        (details(zone="Mars/Olympus"), "unknown time zone"),
        (details(liquid="yesterday"), "not IB's hours"),
        (details(liquid="20261228:0930"), "not IB's hours"),
        (details(liquid="20261228:1600-20261228:0930"), "ends before it starts"),
    ],
)
def test_hours_that_cannot_be_read_fail_rather_than_trade_blind(d, words):
    with pytest.raises(IntentFailed) as failed:
        mh.closed_now(et(2026, 12, 28, 10, 0), {"SPY": d})
    assert failed.value.code == "market-hours"
    assert "SPY" in str(failed.value) and words in str(failed.value)


@given(st.text(max_size=60))
def test_any_text_parses_or_is_a_value_error(text):
    try:
        found = mh.sessions(text, "US/Eastern")
    except ValueError:
        return
    assert all(s.start < s.end for s in found)


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
            st.integers(1, 600),
        ),
        max_size=6,
    )
)
def test_written_sessions_are_read_back(spans):
    starts = [s.replace(second=0, microsecond=0) for s, _ in spans]
    ends = [start + timedelta(minutes=n) for start, (_, n) in zip(starts, spans, strict=True)]
    text = ";".join(f"{a:%Y%m%d:%H%M}-{b:%Y%m%d:%H%M}" for a, b in zip(starts, ends, strict=True))
    found = mh.sessions(text, "UTC")
    utc = ZoneInfo("UTC")
    assert sorted((s.start, s.end) for s in found) == sorted(
        (a.replace(tzinfo=utc), b.replace(tzinfo=utc)) for a, b in zip(starts, ends, strict=True)
    )


PLANNED = {"dryRun": False, "orders": [{"orderRef": "i:alloc:1", "symbol": "SPY"}]}
CLOSED = [mh.Closed("SPY", et(2026, 12, 28, 9, 30))]


def test_decide_goes_on_when_every_market_is_open():
    for policy in mh.WHEN_CLOSED:
        assert mh.decide([], policy, "GTC", PLANNED) == (None, {})


def test_decide_skip_ends_with_no_order_and_the_planned_ones_skipped():
    stop, added = mh.decide(CLOSED, "skip", "DAY", PLANNED)
    assert added == {}
    assert stop["orders"] == [] and stop["skipped"] == PLANNED["orders"]
    assert stop["closed"] == {"SPY": {"nextOpen": "2026-12-28T09:30:00-05:00"}}


def test_decide_fail_raises_market_closed_with_the_plan():
    with pytest.raises(IntentFailed) as failed:
        mh.decide(CLOSED, "fail", "DAY", PLANNED)
    assert (failed.value.code, failed.value.retryable) == ("market-closed", False)
    assert failed.value.result["closed"]["SPY"]["nextOpen"].startswith("2026-12-28")


@pytest.mark.parametrize("tif", ["IOC", "GTC", "OPG", "FOK"])
def test_decide_queue_needs_day_orders(tif):
    with pytest.raises(IntentFailed) as failed:
        mh.decide(CLOSED, "queue", tif, PLANNED)
    assert failed.value.code == "bad-params" and repr(tif) in str(failed.value)


def test_decide_queue_goes_on_and_says_so():
    stop, added = mh.decide(CLOSED, "queue", "DAY", PLANNED)
    assert stop is None
    assert added["whenClosed"] == "queue" and "IB holds them" in added["note"]
