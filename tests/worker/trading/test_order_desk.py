"""The order desk's checks before anything is cancelled or sent (no gateway: an IB that records
every call it gets, so a refused plan is seen to reach nothing)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import ib_async
import pytest

from worker.exceptions import IntentFailed
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest

SPY = ib_async.Contract(conId=756733, symbol="SPY")
LIMITS = {"maxNotionalPerOrder": 10_000, "maxNotionalPerIntent": 20_000, "maxOrdersPerIntent": 3}


class RecordingIB:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append(name)
            raise AssertionError(f"the plan reached the gateway: {name}")

        return call


WORKING = SimpleNamespace(order=SimpleNamespace(orderId=7, orderRef="manual"))


def ctx(mode: str, explicit: bool) -> SimpleNamespace:
    return SimpleNamespace(id="i-1", trading_mode=mode, explicit_mode=explicit, placed=[])


def plan(price: float = 500.0, cancel: list | None = None) -> OrderPlan:
    order = OrderRequest(SPY, "BUY", 2, "i-1:alloc:756733", price, 1.0, {"s": 2})
    return OrderPlan(orders=[order], cancel=cancel)


def desk(context, config) -> tuple[OrderDesk, RecordingIB]:
    ib = RecordingIB()
    return OrderDesk(context, ib, config), ib


@pytest.mark.parametrize(
    ("context", "config", "code"),
    [
        # a live worker reached by a message that did not say "live" itself
        (ctx("live", explicit=False), {"riskLimits": LIMITS}, "live-guard"),
        # empty config: no order without the three numeric limits
        (ctx("paper", explicit=True), {}, "config-missing"),
        (ctx("live", explicit=True), {"riskLimits": {"maxOrdersPerIntent": 3}}, "config-missing"),
    ],
)
def test_a_plan_refused_before_it_reaches_the_gateway(context, config, code):
    order_desk, ib = desk(context, config)
    with pytest.raises(IntentFailed) as refused:
        order_desk.execute(plan(cancel=[WORKING]), dry_run=False)
    assert refused.value.code == code
    assert ib.calls == []  # nothing cancelled, nothing sent
    assert context.placed == []


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_an_order_without_a_usable_price_is_refused(price):
    order_desk, ib = desk(ctx("paper", explicit=True), {"riskLimits": LIMITS})
    with pytest.raises(IntentFailed, match="no usable price"):
        order_desk.execute(plan(price), dry_run=False)
    assert ib.calls == []


def test_a_dry_run_needs_no_live_guard_nor_configured_limits():
    order_desk, ib = desk(ctx("live", explicit=False), {})
    empty = OrderPlan(orders=[], report={"note": "nothing to do"})
    result = order_desk.execute(empty, dry_run=True)
    assert result == {"note": "nothing to do", "dryRun": True, "orders": []}
    assert ib.calls == []  # with orders, it asks IB what they would cost (test_what_if_desk.py)


def test_an_explicit_live_message_within_its_limits_passes_the_checks():
    order_desk, _ = desk(ctx("live", explicit=True), {"riskLimits": LIMITS})
    order_desk.check(plan())  # raises nothing


def test_a_reprice_counts_the_intents_other_orders_towards_its_limits():
    """Two LMT buys of 10,000 and 9,900 at their limits within maxNotionalPerIntent 20,000: a
    reprice of the first to 102 keeps its own limit (10,200 < 10,500) but takes the intent to
    20,100, so it is refused; a smaller one passes and is kept for the next check."""
    context = ctx("paper", explicit=True)
    context.check_owner = lambda: None
    first = OrderRequest(SPY, "BUY", 100, "i-1:alloc:1", 100.0, limit=100.0)
    second = OrderRequest(SPY, "BUY", 99, "i-1:alloc:2", 100.0, limit=100.0)
    context.placed = [first, second]
    limits = {
        "maxNotionalPerOrder": 10_500,
        "maxNotionalPerIntent": 20_000,
        "maxOrdersPerIntent": 3,
    }
    order_desk, ib = desk(context, {"riskLimits": limits})
    with pytest.raises(IntentFailed) as refused:
        order_desk.check_reprice(dataclasses.replace(first, limit=102.0))
    assert refused.value.code == "risk-limit" and "maxNotionalPerIntent" in str(refused.value)
    order_desk.check_reprice(dataclasses.replace(first, limit=101.0))  # 20,000: within
    assert [r.limit for r in context.placed] == [101.0, 100.0]
    with pytest.raises(IntentFailed):  # the second's reprice counts the first at 101
        order_desk.check_reprice(dataclasses.replace(second, limit=100.5))
    assert ib.calls == []


def test_orders_queued_for_the_open_are_not_cancelled_by_the_unfilled_policy():
    """whenClosed queue on a closed market: the LMT orders IB holds for the open would be
    cancelled unfilled after unfilledAfterSeconds, long before the open. They are left working
    (no call reaches the gateway) and the result says why."""
    context = ctx("paper", explicit=True)
    properties = {
        "orderType": "LMT",
        "limitOffsetBps": 5,
        "unfilledAfterSeconds": 30,
        "unfilled": "cancel",
    }
    order_desk = OrderDesk(context, RecordingIB(), {"riskLimits": LIMITS}, properties, "queue")
    order_desk._queued = {"note": "market closed for SPY: DAY orders IB holds for the open"}
    outcomes = [{"orderRef": "i-1:alloc:756733", "status": "PreSubmitted"}]
    (settled,) = order_desk._settle([plan().orders[0]], outcomes, {"i-1:alloc:756733"})
    assert settled["status"] == "PreSubmitted" and "does not apply" in settled["unfilled"]
