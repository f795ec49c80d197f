"""Order types as pure decisions (no gateway): orderProperties parsed, marketable limit prices
on the tick grid, the close-order cut-off in the instrument's own time zone, and the unfilled
remainder policy."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from worker.exceptions import IntentFailed
from worker.message import schema_errors
from worker.settings import Settings
from worker.trading.market_hours import sessions
from worker.trading.order_types import (
    MAX_OFFSET_BPS,
    OrderSpec,
    close_cutoff,
    close_rule,
    cutoff_refusal,
    limit_price,
    parse,
    reference_price,
    unfilled_step,
)

NY = ZoneInfo("US/Eastern")
WEEK = (
    "20261126:CLOSED;20261127:0930-20261127:1300;20261130:0930-20261130:1600;"
    "20261207:0930-20261207:1600"
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_no_properties_is_a_market_order_as_before():
    assert parse(None) == OrderSpec("MKT", "DAY")
    assert parse({"tif": "GTC"}).ib_type == "MKT"
    assert parse({"orderType": "Adaptive"}).ib_type == "MKT"


def test_each_order_type_parses():
    lmt = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 30, "unfilled": "cancel"}
    )
    assert (lmt.ib_type, lmt.limit_offset_bps, lmt.unfilled) == ("LMT", 5.0, "cancel")
    assert parse({"orderType": "MOC"}).at_close
    loc = parse({"orderType": "LOC", "limitOffsetBps": 0})
    assert loc.at_close and loc.needs_limit


@pytest.mark.parametrize(
    ("properties", "names"),
    [
        ({"orderType": "LMT", "limitOffsetBps": -1}, "limitOffsetBps"),
        ({"orderType": "LMT", "limitOffsetBps": math.nan}, "limitOffsetBps"),
        ({"orderType": "LMT", "limitOffsetBps": math.inf}, "limitOffsetBps"),
        ({"orderType": "LMT", "limitOffsetBps": 1e9}, "limitOffsetBps"),
        ({"orderType": "LMT", "limitOffsetBps": True}, "limitOffsetBps"),
        ({"orderType": "LMT", "limitOffsetBps": "5"}, "limitOffsetBps"),
        ({"orderType": "MOC", "tif": "GTC"}, "not DAY"),
        ({"orderType": "LOC", "tif": "IOC", "limitOffsetBps": 5}, "not DAY"),
        ({"orderType": "LOC"}, "needs limitOffsetBps"),
        ({"orderType": "LMT"}, "needs limitOffsetBps"),
        ({"orderType": "STP"}, "orderType 'STP'"),
        ({"orderType": "MKT", "limitOffsetBps": 5}, "for LMT and LOC"),
        ({"orderType": "MOC", "unfilled": "cancel", "unfilledAfterSeconds": 5}, "for LMT"),
        ({"orderType": "LMT", "limitOffsetBps": 5, "unfilled": "cancel"}, "go together"),
        (
            {
                "orderType": "LMT",
                "limitOffsetBps": 5,
                "unfilledAfterSeconds": 0,
                "unfilled": "cancel",
            },
            "unfilledAfterSeconds",
        ),
        (
            {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 9, "unfilled": "x"},
            "unfilled 'x'",
        ),
        ("LMT", "expected an object"),
    ],
)
def test_bad_properties_are_one_clear_error_not_retried(properties, names):
    with pytest.raises(IntentFailed) as refused:
        parse(properties)
    assert refused.value.code == "bad-params"
    assert refused.value.retryable is False
    assert names in str(refused.value)


PROPERTIES = st.dictionaries(
    st.sampled_from(["orderType", "tif", "limitOffsetBps", "unfilledAfterSeconds", "unfilled"]),
    st.one_of(
        st.sampled_from(["MKT", "Adaptive", "LMT", "MOC", "LOC", "DAY", "GTC", "IOC", "OPG"]),
        st.sampled_from(["cancel", "reprice", "STP", ""]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-10, 1000),
        st.booleans(),
        st.none(),
    ),
)


def _schema_accepts(properties: dict) -> bool:
    errors = schema_errors(
        Settings().schemas_dir, "intents/allocation", {"orderProperties": properties}
    )
    return not errors


@given(properties=PROPERTIES)
def test_the_parser_refuses_or_returns_a_sound_spec_and_agrees_with_the_schema(properties):
    has_nan = any(isinstance(v, float) and not math.isfinite(v) for v in properties.values())
    has_null = any(v is None for v in properties.values())
    try:
        spec = parse(properties)
    except IntentFailed as exc:
        assert exc.code == "bad-params" and not exc.retryable
        if not has_nan and not has_null:  # JSON carries no NaN; null means "absent" to parse
            assert not _schema_accepts(properties), properties
        return
    if spec.needs_limit:
        assert spec.limit_offset_bps is not None
        assert 0 <= spec.limit_offset_bps <= MAX_OFFSET_BPS
    if spec.at_close:
        assert spec.tif == "DAY"
    if not has_null:
        assert _schema_accepts(properties), properties


def test_the_reference_is_the_mid_else_the_last():
    assert reference_price(99.0, 101.0, 100.7) == 100.0
    assert reference_price(math.nan, 101.0, 100.7) == 100.7
    assert reference_price(-1.0, -1.0, 100.7) == 100.7  # IB's "no bid/ask"
    assert reference_price(102.0, 101.0, 100.7) == 100.7  # a crossed quote is no mid
    assert reference_price(None, None, math.nan) is None
    assert reference_price(0.0, 0.0, 0.0) is None


def test_a_limit_is_rounded_to_the_tick_on_the_marketable_side():
    assert limit_price("BUY", 100.0, 5, 0.01) == 100.05
    assert limit_price("SELL", 100.0, 5, 0.01) == 99.95
    assert limit_price("BUY", 100.001, 0, 0.01) == 100.01  # up for a buy
    assert limit_price("SELL", 100.009, 0, 0.01) == 100.0  # down for a sell
    assert limit_price("BUY", 4321.1, 10, 0.25) == 4325.50
    assert limit_price("SELL", 0.004, 0, 0.01) == 0.01  # never a zero limit
    assert limit_price("BUY", 100.0, 5, 0.0) == 100.05  # no minTick: cents


@given(
    action=st.sampled_from(["BUY", "SELL"]),
    reference=st.floats(1.0, 100_000.0),
    bps=st.floats(0.0, MAX_OFFSET_BPS),
    tick=st.sampled_from([0.0001, 0.005, 0.01, 0.05, 0.25, 1.0]),
)
# found by CI: a target a millionth of a tick over the grid (1.5000000015) gets the grid's 1.5
@example(action="BUY", reference=1.5, bps=0.00001, tick=0.01)
def test_a_limit_is_on_the_grid_at_most_one_tick_past_the_offset(action, reference, bps, tick):
    limit = limit_price(action, reference, bps, tick)
    target = reference * (1 + bps / 10_000) if action == "BUY" else reference * (1 - bps / 10_000)
    steps = Decimal(str(limit)) / Decimal(str(tick))
    assert steps == steps.to_integral_value()
    slack = tick * 1.000001 + 1e-9 * reference
    # limit_price drops what is under a millionth of a tick (a float's error, not a price) before
    # it rounds onto the grid: the limit may fall short of the target by that much, no more.
    short = tick * 1e-6 + 1e-9 * reference
    if action == "BUY":
        assert target - short <= limit <= target + slack
    else:
        assert max(target - slack, tick) - 1e-9 <= limit <= max(target, tick) + short


def test_a_float_error_in_the_mid_does_not_move_the_limit_a_tick():
    mid = reference_price(1.10, 1.30, None)  # 1.2000000000000002 in binary floating point
    assert (limit_price("BUY", mid, 0, 0.01), limit_price("SELL", mid, 0, 0.01)) == (1.2, 1.2)
    assert limit_price("BUY", 123.455, 0, 0.01) == 123.46  # a true half tick: the buy's side
    assert limit_price("SELL", 123.455, 0, 0.01) == 123.45


@given(
    action=st.sampled_from(["BUY", "SELL"]),
    bid_cents=st.integers(1, 10_000_000),
    spread_cents=st.integers(0, 500),
    bps=st.integers(0, int(MAX_OFFSET_BPS)),
)
def test_a_limit_from_a_quote_in_cents_is_exactly_the_next_tick_on_its_side(
    action, bid_cents, spread_cents, bps
):
    """Quotes in cents: the exact limit (decimal arithmetic) rounded up for a buy, down for a
    sell, never a tick further because the mid or the offset was computed in binary floats."""
    bid, ask = bid_cents / 100, (bid_cents + spread_cents) / 100
    mid = Decimal(2 * bid_cents + spread_cents) / 200
    sign = 1 if action == "BUY" else -1
    exact = mid * (1 + Decimal(sign * bps) / 10_000) * 100
    steps = math.ceil(exact) if action == "BUY" else math.floor(exact)
    reference = reference_price(bid, ask, None)
    assert reference is not None
    assert Decimal(str(limit_price(action, reference, bps, 0.01))) == Decimal(max(steps, 1)) / 100


def test_the_cutoff_is_1550_on_a_normal_day_and_ten_minutes_before_an_early_close():
    found = sessions(WEEK, "US/Eastern")
    rule = (time(15, 50), timedelta(minutes=10))
    normal = close_cutoff(at("2026-12-07T15:55:00-05:00"), found, *rule)
    assert normal == at("2026-12-07T15:50:00-05:00")
    early = close_cutoff(at("2026-11-27T12:00:00-05:00"), found, *rule)
    assert early == at("2026-11-27T12:50:00-05:00")
    assert close_cutoff(at("2026-11-26T12:00:00-05:00"), found, *rule) is None  # holiday


def test_the_cutoff_is_read_in_the_instruments_own_time_zone():
    found = sessions("20261207:0800-20261207:1630", "Europe/Berlin")
    cutoff = close_cutoff(
        at("2026-12-07T10:00:00-05:00"), found, time(15, 50), timedelta(minutes=10)
    )
    assert cutoff == datetime(2026, 12, 7, 15, 50, tzinfo=ZoneInfo("Europe/Berlin"))


def details(hours: str = WEEK, zone: str = "US/Eastern") -> SimpleNamespace:
    return SimpleNamespace(liquidHours=hours, tradingHours=hours, timeZoneId=zone)


def test_close_orders_are_refused_from_the_cutoff_on():
    rule = close_rule({})
    both = {"SPY": details(), "TLT": details()}
    assert cutoff_refusal(at("2026-12-07T15:45:00-05:00"), both, "MOC", *rule) is None
    refusal = cutoff_refusal(at("2026-12-07T15:55:00-05:00"), both, "MOC", *rule)
    assert refusal is not None
    assert "SPY (cut-off 15:50 US/Eastern)" in refusal and "TLT" in refusal
    assert cutoff_refusal(at("2026-11-27T12:55:00-05:00"), both, "LOC", *rule) is not None
    assert cutoff_refusal(at("2026-12-07T16:30:00-05:00"), both, "MOC", *rule) is None  # closed


def test_the_cutoff_comes_from_the_config():
    rule = close_rule({"closeOrders": {"cutoff": "15:40", "minutesBeforeClose": 20}})
    assert rule == (time(15, 40), timedelta(minutes=20))
    one = {"SPY": details()}
    assert cutoff_refusal(at("2026-12-07T15:45:00-05:00"), one, "MOC", *rule) is not None
    assert cutoff_refusal(at("2026-11-27T12:45:00-05:00"), one, "MOC", *rule) is not None


@pytest.mark.parametrize(
    ("policy", "elapsed", "repriced", "step"),
    [
        (None, 999, 0, "leave"),
        ("cancel", 5, 0, "wait"),
        ("cancel", 30, 0, "cancel"),
        ("reprice", 30, 0, "reprice"),
        ("reprice", 10, 1, "wait"),
        ("reprice", 30, 1, "cancel"),
    ],
)
def test_the_unfilled_policy(policy, elapsed, repriced, step):
    spec = OrderSpec(
        "LMT",
        "DAY",
        5.0,
        30 if policy else None,
        policy,  # type: ignore[arg-type]
    )
    assert unfilled_step(spec, elapsed, repriced) == step
