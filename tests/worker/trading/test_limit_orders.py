"""Limit and close orders at the gateway's edge, with a fake IB: limit prices from its quotes and
minTick, the orders each type sends, and the unfilled policy acting only on this attempt's own
orders, modifying (never doubling) them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import ib_async
import pytest

from worker.exceptions import IntentFailed
from worker.trading import limit_orders
from worker.trading.order_plan import OrderRequest
from worker.trading.order_types import OrderSpec, parse
from worker.trading.price_age import PricePolicy

SPY = ib_async.Contract(conId=756733, symbol="SPY", secType="STK")


class FakeIB:
    """Quotes, contract details and trades; every order sent, modified or cancelled is kept."""

    def __init__(self, bid=99.0, ask=101.0, last=100.0, min_tick=0.05) -> None:
        self.ticker = SimpleNamespace(bid=bid, ask=ask, last=last)
        self.min_tick = min_tick
        self.placed: list = []
        self.cancelled: list = []
        self.open: list = []
        self.on_sleep = lambda: None

    def reqTickers(self, *contracts):
        return [self.ticker for _ in contracts]

    def reqContractDetails(self, contract):
        return [SimpleNamespace(minTick=self.min_tick)]

    def trades(self):
        return self.open

    def placeOrder(self, contract, order):
        self.placed.append((order.orderId, order.lmtPrice))

    def cancelOrder(self, order):
        self.cancelled.append(order.orderId)
        for t in self.open:
            if t.order.orderId == order.orderId:
                t.orderStatus.status = "Cancelled"

    def sleep(self, seconds):
        self.on_sleep()


def request(action="BUY", ref="i:alloc:756733") -> OrderRequest:
    return OrderRequest(SPY, action, 10, ref, 100.0)


def trade(order_id: int, ref: str, status="Submitted", filled=0.0, limit=100.05):
    order = ib_async.Order(orderId=order_id, orderRef=ref, orderType="LMT", lmtPrice=limit)
    return SimpleNamespace(
        order=order,
        contract=SPY,
        orderStatus=SimpleNamespace(status=status, filled=filled, avgFillPrice=100.0),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_limit_prices_come_from_the_mid_and_the_min_tick():
    ib = FakeIB(bid=99.0, ask=101.0, min_tick=0.05)
    spec = parse({"orderType": "LMT", "limitOffsetBps": 7})
    buy, sell = limit_orders.with_type(ib, [request(), request("SELL", "i:alloc:2")], spec)
    assert (buy.order_type, buy.limit) == ("LMT", 100.1)  # 100.07 up to the tick
    assert sell.limit == 99.9  # 99.93 down to the tick
    assert buy.order_ref == "i:alloc:756733"  # idempotency key untouched
    assert buy.notional == pytest.approx(10 * 100.1)


def test_no_quote_means_no_limit_and_no_order():
    ib = FakeIB(bid=-1.0, ask=-1.0, last=float("nan"))
    spec = parse({"orderType": "LOC", "limitOffsetBps": 5})
    (priced,) = limit_orders.with_type(ib, [request()], spec)
    assert priced.limit is None  # a closed market's quote: whenClosed decides first
    with pytest.raises(IntentFailed) as failed:
        limit_orders.require_limits([priced], spec)
    assert failed.value.code == "no-limit-price" and "SPY" in str(failed.value)
    assert failed.value.retryable
    limit_orders.require_limits([request()], parse(None))  # a market order needs none


def test_market_and_close_orders_need_no_quote():
    ib = FakeIB()
    ib.reqTickers = None  # type: ignore[assignment]  # asked, it would fail
    (moc,) = limit_orders.with_type(ib, [request()], parse({"orderType": "MOC"}))
    assert (moc.order_type, moc.limit) == ("MOC", None)


@pytest.mark.parametrize(
    ("properties", "kind", "limit", "algo"),
    [
        (None, "MKT", None, "Adaptive"),
        ({"orderType": "Adaptive"}, "MKT", None, "Adaptive"),
        ({"orderType": "LMT", "limitOffsetBps": 5}, "LMT", 100.05, ""),
        ({"orderType": "MOC"}, "MOC", None, ""),
        ({"orderType": "LOC", "limitOffsetBps": 5}, "LOC", 100.05, ""),
    ],
)
def test_the_order_each_type_sends(properties, kind, limit, algo):
    spec = parse(properties)
    (priced,) = limit_orders.with_type(FakeIB(min_tick=0.01), [request()], spec)
    order = limit_orders.ib_order(ib_async, priced, spec, properties or {}, "Normal")
    assert (order.orderType, order.tif, order.orderRef) == (kind, "DAY", "i:alloc:756733")
    assert order.algoStrategy == algo
    if limit is not None:
        assert order.lmtPrice == limit


def outcome(ref: str, status="Submitted") -> dict:
    return {"orderRef": ref, "status": status, "filled": 0.0, "orderType": "LMT"}


def test_cancel_takes_the_remainder_off_after_the_wait():
    ib, clock = FakeIB(), Clock()
    ib.open = [trade(1, "i:alloc:1", filled=4.0)]
    ib.on_sleep = lambda: setattr(clock, "now", clock.now + 10)
    spec = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 30, "unfilled": "cancel"}
    )
    done = limit_orders.settle(
        ib, spec, [outcome("i:alloc:1")], {"i:alloc:1"}, lambda t: None, clock
    )
    assert ib.cancelled == [1] and ib.placed == []
    assert done[0]["status"] == "Cancelled" and done[0]["filled"] == 4.0
    assert "remainder cancelled after 30 s" in done[0]["unfilled"]


def test_reprice_modifies_the_same_order_once_then_cancels():
    ib, clock = FakeIB(), Clock()
    ib.open = [trade(1, "i:alloc:1")]
    ib.on_sleep = lambda: setattr(clock, "now", clock.now + 10)
    spec = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 20, "unfilled": "reprice"}
    )
    done = limit_orders.settle(
        ib, spec, [outcome("i:alloc:1")], {"i:alloc:1"}, lambda t: 100.25, clock
    )
    assert ib.placed == [(1, 100.25)]  # a modification of order 1: no second order
    assert ib.cancelled == [1]
    assert done[0]["limitPrice"] == 100.25
    assert done[0]["unfilled"].startswith("repriced to 100.25, then remainder cancelled")


def test_the_policy_leaves_filled_orders_and_earlier_attempts_orders_alone():
    ib, clock = FakeIB(), Clock()
    ib.open = [trade(1, "i:alloc:1", status="Filled", filled=10.0), trade(2, "i:alloc:2")]
    ib.on_sleep = lambda: setattr(clock, "now", clock.now + 10)
    spec = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 5, "unfilled": "cancel"}
    )
    outcomes = [outcome("i:alloc:1", "Filled"), outcome("i:alloc:2")]
    # i:alloc:2 was sent by an earlier attempt (not fresh): it is not this attempt's to cancel
    done = limit_orders.settle(ib, spec, outcomes, {"i:alloc:1"}, lambda t: None, clock)
    assert ib.cancelled == [] and ib.placed == []
    assert done[1] == outcomes[1]


def test_without_a_policy_nothing_waits():
    ib = FakeIB()
    ib.open = [trade(1, "i:alloc:1")]
    ib.sleep = None  # type: ignore[assignment]  # a wait would fail
    spec = OrderSpec("LMT", "DAY", 5.0)
    outcomes = [outcome("i:alloc:1")]
    assert limit_orders.settle(ib, spec, outcomes, {"i:alloc:1"}, lambda t: None) == outcomes


def test_a_reprice_breaking_a_risk_limit_is_not_sent():
    ib = FakeIB(bid=99.0, ask=101.0)
    spec = parse({"orderType": "LMT", "limitOffsetBps": 5})

    def check(r: OrderRequest) -> None:
        raise IntentFailed("risk-limit", "over maxNotionalPerOrder")

    reprice = limit_orders.repricer(ib, spec, [request()], check)
    assert reprice(trade(1, "i:alloc:756733")) is None
    assert reprice(trade(2, "someone:else:1")) is None


def test_an_order_filled_while_its_reprice_is_priced_is_not_modified():
    """The fill arrives during the reprice's quote request (the event loop runs there): IB
    cannot modify a filled order (ib_async asserts), and the result says filled, not repriced."""

    class StrictIB(FakeIB):
        def placeOrder(self, contract, order):
            (found,) = [t for t in self.open if t.order.orderId == order.orderId]
            assert found.orderStatus.status not in ("Filled", "Cancelled"), "modified a done order"
            super().placeOrder(contract, order)

    ib, clock = StrictIB(), Clock()
    ib.open = [trade(1, "i:alloc:1")]
    ib.on_sleep = lambda: setattr(clock, "now", clock.now + 10)
    spec = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 20, "unfilled": "reprice"}
    )

    def reprice(t):
        t.orderStatus.status, t.orderStatus.filled = "Filled", 10.0  # the fill came meanwhile
        return 100.25

    done = limit_orders.settle(ib, spec, [outcome("i:alloc:1")], {"i:alloc:1"}, reprice, clock)
    assert ib.placed == [] and ib.cancelled == []
    assert (done[0]["status"], done[0]["filled"], done[0]["limitPrice"]) == ("Filled", 10.0, 100.05)
    assert "unfilled" not in done[0]


def test_the_remainder_is_cancelled_before_the_attempts_deadline_rather_than_left_working():
    """unfilledAfterSeconds 120 with 25 s left in the attempt: waiting would let the attempt be
    cut short and the retry adopt the order and leave it working all day; it is cancelled while
    the attempt can still say so."""
    ib, clock = FakeIB(), Clock()
    ib.open = [trade(1, "i:alloc:1", filled=4.0)]
    ib.on_sleep = lambda: setattr(clock, "now", clock.now + 10)
    spec = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 120, "unfilled": "cancel"}
    )
    done = limit_orders.settle(
        ib, spec, [outcome("i:alloc:1")], {"i:alloc:1"}, lambda t: None, clock, deadline=25.0
    )
    assert ib.cancelled == [1] and clock.now < 25.0
    assert done[0]["status"] == "Cancelled" and done[0]["filled"] == 4.0
    assert done[0]["unfilled"] == "remainder cancelled at the attempt's deadline"


class QuotedIB(FakeIB):
    """A ticker as ib_async gives one: data type, IB's last-trade time, IB's clock."""

    NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)

    def __init__(self, traded_ago: float, bid=math.nan, ask=math.nan) -> None:
        super().__init__(bid=bid, ask=ask, last=100.0)
        self.ticker = SimpleNamespace(
            bid=bid,
            ask=ask,
            last=100.0,
            marketDataType=1,
            lastTimestamp=self.NOW - timedelta(seconds=traded_ago),
            delayedLastTimestamp=None,
            contract=SPY,
            hasBidAsk=lambda: not math.isnan(bid) and not math.isnan(ask),
        )

    def reqCurrentTime(self):
        return self.NOW


@pytest.mark.parametrize(
    ("traded_ago", "quote", "repriced"),
    [
        (30.0, (), True),  # a last price 30 s old: current
        (1800.0, (), False),  # a halt: the last trade 30 min ago, no quote
        (1800.0, (99.0, 101.0), True),  # a live bid and ask are now, whatever the last trade
        (1800.0, (101.0, 99.0), False),  # crossed (around a halt): the limit is the old last's
    ],
)
def test_a_reprice_is_not_set_from_a_stale_price(traded_ago, quote, repriced):
    ib = QuotedIB(traded_ago, *quote)
    spec = parse({"orderType": "LMT", "limitOffsetBps": 5})
    reprice = limit_orders.repricer(ib, spec, [request()], lambda r: None, PricePolicy())
    limit = reprice(trade(1, "i:alloc:756733"))
    assert (limit is not None) == repriced
    allowed = limit_orders.repricer(
        ib, spec, [request()], lambda r: None, PricePolicy(allow_stale=True)
    )
    assert allowed(trade(1, "i:alloc:756733")) is not None  # the config may accept any age


def test_a_remainder_with_no_new_limit_is_cancelled_at_the_reprice_and_says_why():
    ib, clock = FakeIB(), Clock()
    ib.open = [trade(1, "i:alloc:1"), trade(2, "i:alloc:2")]
    ib.on_sleep = lambda: setattr(clock, "now", clock.now + 10)
    spec = parse(
        {"orderType": "LMT", "limitOffsetBps": 5, "unfilledAfterSeconds": 20, "unfilled": "reprice"}
    )

    def reprice(t):  # order 1 gets a new limit, order 2 none (a stale quote, a risk limit)
        return 100.25 if t.order.orderId == 1 else None

    done = limit_orders.settle(
        ib,
        spec,
        [outcome("i:alloc:1"), outcome("i:alloc:2")],
        {"i:alloc:1", "i:alloc:2"},
        reprice,
        clock,
    )
    by_ref = {o["orderRef"]: o for o in done}
    assert ib.placed == [(1, 100.25)]  # one modification, of order 1 only
    assert ib.cancelled[0] == 2  # order 2 went at the reprice, before the second wait
    assert by_ref["i:alloc:2"]["unfilled"].startswith("not repriced")
    assert by_ref["i:alloc:1"]["unfilled"].startswith("repriced to 100.25")
