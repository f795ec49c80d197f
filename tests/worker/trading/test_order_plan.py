"""OrderRequest, OrderPlan and scaling per-strategy quantities (no gateway)."""

from __future__ import annotations

import ib_async
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.message import ID_PATTERN
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref, placed_by, scale


def test_scale_keeps_whole_units_that_add_up():
    assert scale({"a": 60, "b": 40}, 0.5) == {"a": 30, "b": 20}
    assert scale({"a": 1, "b": 1, "c": 1}, 2 / 3) == {"a": 0, "b": 1, "c": 1}  # the largest gives
    assert scale({}, 0.3) == {}
    assert scale({"a": -60, "b": -40}, 1) == {"a": -60, "b": -40}


@settings(deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcde"), st.integers(-1000, 1000), min_size=1),
    st.floats(0, 2),
)
def test_scaled_sources_add_up_to_the_scaled_total(sources, factor):
    scaled = scale(sources, factor)
    assert sum(scaled.values()) == round(sum(sources.values()) * factor)
    assert set(scaled) == set(sources) and all(q == int(q) for q in scaled.values())


def test_a_plan_describes_its_orders_and_cancels():
    spy = ib_async.Contract(conId=756733, symbol="SPY")
    request = OrderRequest(spy, "BUY", 3, order_ref("i", "alloc", "756733"), 500, sources={"a": 3})
    trade = ib_async.Trade(order=ib_async.Order(orderId=7, orderRef="manual"))
    described = OrderPlan([request], {"note": "x"}, cancel=[trade]).describe(dry_run=True)
    assert described == {
        "note": "x",
        "dryRun": True,
        "orders": [
            {
                "orderRef": "i:alloc:756733",
                "symbol": "SPY",
                "action": "BUY",
                "quantity": 3,
                "sources": {"a": 3},
                "orderType": "MKT",
            }
        ],
        "cancel": [{"orderId": 7, "orderRef": "manual"}],
    }
    assert request.notional == 1500


def test_a_limit_order_reports_its_limit_and_its_notional_is_at_the_limit():
    eur_stock = ib_async.Contract(conId=1, symbol="SAP")
    request = OrderRequest(
        eur_stock, "BUY", 10, "i:alloc:1", 110.0, order_type="LMT", limit=101.5, fx=1.1
    )
    assert request.planned()["orderType"] == "LMT"
    assert request.planned()["limitPrice"] == 101.5
    assert request.notional == pytest.approx(10 * 101.5 * 1.1)


@given(
    intent_id=st.from_regex(ID_PATTERN, fullmatch=True),
    step=st.sampled_from(["alloc", "close", "cash"]),
    leg=st.one_of(st.integers(1, 10**9).map(str), st.sampled_from(["EUR", "GBP"])),
)
def test_an_order_ref_names_exactly_the_intent_that_placed_it(intent_id, step, leg):
    assert placed_by(order_ref(intent_id, step, leg)) == intent_id


def test_an_order_ref_that_is_not_ours_names_no_intent():
    assert placed_by("manual") is None
    assert placed_by("a:b") is None
    assert placed_by("::") is None


def test_a_limit_sells_notional_is_never_below_its_price():
    """A marketable sell's limit lies below the market and it fills at or above it: the risk
    limits count it at the sizing price (a 5 % offset would otherwise pass a sell 5 % over
    maxNotionalPerOrder); a sell limit above the price counts at the limit."""
    stock = ib_async.Contract(conId=1, symbol="SPY")
    sell = OrderRequest(stock, "SELL", 100, "i:alloc:1", 104.0, order_type="LMT", limit=98.8)
    assert sell.notional == pytest.approx(100 * 104.0)
    above = OrderRequest(stock, "SELL", 100, "i:alloc:1", 104.0, order_type="LOC", limit=105.0)
    assert above.notional == pytest.approx(100 * 105.0)
    buy = OrderRequest(stock, "BUY", 100, "i:alloc:1", 104.0, order_type="LMT", limit=104.1)
    assert buy.notional == pytest.approx(100 * 104.1)
