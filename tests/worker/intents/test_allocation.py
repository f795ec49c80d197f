"""`allocation` with the tests' config (static-weights 60/40 at 50% exposure)."""

from __future__ import annotations

import pytest

from tests.support import delivery, events, intent_ref, unique
from tests.worker.intents.conftest import SPY, TLT
from worker import strategies


def allocate(worker, intent_id: str, **params):
    return worker.handle(delivery({"intent": "allocation", "id": intent_id, "params": params}))


def holdings(positions_root) -> dict:
    doc = positions_root.collection("holdings").document("static-weights").get()
    return {int(k): v for k, v in ((doc.to_dict() or {}).get("positions") or {}).items()}


def test_dry_run_computes_everything_and_places_nothing(
    make_worker, flat_sim, positions_root, results
):
    intent_id = unique("alloc-dry")
    allocate(make_worker(flat_sim), intent_id, dryRun=True)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    body = result["result"]
    assert body["signals"] == {"static-weights": {"SPY": 0.6, "TLT": 0.4}}
    exposure = body["netLiquidation"] * 0.5
    spy_target = body["targets"]["static-weights"]["SPY"]
    assert abs(spy_target * 550 - exposure * 0.6) < 550 * 3  # price walks near 550
    assert [(t["symbol"], t["action"]) for t in body["orders"]] == [("SPY", "BUY"), ("TLT", "BUY")]
    assert body["holdings"] == {"static-weights": {}}
    assert flat_sim.api.broker.orders == {}


def test_orders_go_out_once_and_holdings_follow(make_worker, flat_sim, positions_root, results, db):
    worker = make_worker(flat_sim)
    intent_id = unique("alloc")
    assert allocate(worker, intent_id).status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = result["result"]["orders"]
    assert {o["status"] for o in orders} == {"Filled"}
    assert all(o["orderRef"].startswith(f"{intent_id}:alloc:") for o in orders)
    targets = result["result"]["targets"]["static-weights"]
    assert holdings(positions_root) == {SPY: targets["SPY"], TLT: targets["TLT"]}
    broker = {p.conId: p.quantity for p in flat_sim.state.positions}
    assert broker == {SPY: targets["SPY"], TLT: targets["TLT"]}
    # The same intent id again: nothing new at the broker, no second result.
    assert allocate(worker, intent_id).status == 200
    assert len(flat_sim.api.broker.orders) == 2
    assert len(results.all_for(intent_id, settle=1)) == 1
    # A new allocation right after: the strategy already holds its targets (up to price drift).
    again = unique("alloc")
    allocate(worker, again, dryRun=True)
    trades = results.for_id(again)["result"]["orders"]
    assert all(t["quantity"] <= 2 for t in trades)
    trail = events(db, intent_id)
    assert trail.count("order placed") == 2 and trail.count("fill") == 2


def test_connection_lost_after_the_first_order_redelivery_places_only_the_rest(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.state.faults.drop_after_orders = 1
    worker = make_worker(flat_sim)
    intent_id = unique("alloc-crash")
    message = delivery({"intent": "allocation", "id": intent_id})
    assert worker.handle(message).status == 503
    assert len(flat_sim.api.broker.orders) == 1
    assert worker.handle(message).status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert len(flat_sim.api.broker.orders) == 2
    targets = result["result"]["targets"]["static-weights"]
    assert holdings(positions_root) == {SPY: targets["SPY"], TLT: targets["TLT"]}
    assert {p.conId: p.quantity for p in flat_sim.state.positions} == holdings(positions_root)
    # The first attempt's order is in the result although the recomputed plan had no reason
    # to order SPY again (the holdings already had it).
    (first,) = [o for o in flat_sim.api.broker.orders.values() if o.instrument.conId == SPY]
    reported = {o["orderRef"]: o for o in result["result"]["orders"]}
    assert reported[first.orderRef]["placedBefore"] is True
    assert reported[first.orderRef]["quantity"] == first.totalQuantity


def test_orders_sent_by_an_attempt_that_fails_for_good_are_still_booked(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.state.faults.drop_after_orders = 1
    worker = make_worker(flat_sim, MAX_ATTEMPTS="1")  # no redelivery will finish the job
    intent_id = unique("alloc-lost")
    allocate(worker, intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "failed"
    assert len(flat_sim.api.broker.orders) == 1
    (sent,) = flat_sim.api.broker.orders.values()
    waiting = [d.id for d in positions_root.collection("openOrders").stream()]
    assert waiting == [sent.orderRef]  # recorded before it went out
    recon = unique("recon")
    worker.handle(delivery({"intent": "trade-reconciliation", "id": recon}))
    assert results.for_id(recon)["result"]["reconciled"] == [sent.orderRef]
    broker = {p.conId: p.quantity for p in flat_sim.state.positions}
    assert holdings(positions_root) == broker
    assert list(positions_root.collection("openOrders").stream()) == []


def test_partial_fills_wait_for_reconciliation_which_books_what_filled(
    make_worker, flat_sim, positions_root, results, db
):
    flat_sim.state.faults.partial_fill = 0.5
    worker = make_worker(flat_sim)
    intent_id = unique("alloc-partial")
    allocate(worker, intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = result["result"]["orders"]
    assert len(orders) == 2 and all(0 < o["filled"] < o["quantity"] for o in orders)
    assert holdings(positions_root) == {}
    waiting = positions_root.collection("openOrders").stream()
    assert sorted(d.id for d in waiting) == sorted(o["orderRef"] for o in orders)
    # The rest never fills: the day ends and IB cancels it.
    broker = flat_sim.api.broker
    for order in broker.working():
        broker.cancel(order.clientId, order.orderId)
    recon = unique("recon")
    worker.handle(delivery({"intent": "trade-reconciliation", "id": recon}))
    result = results.for_id(recon)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["reconciled"] == sorted(o["orderRef"] for o in orders)
    assert holdings(positions_root) == {o["conId"]: o["filled"] for o in orders}
    assert {p.conId: p.quantity for p in flat_sim.state.positions} == holdings(positions_root)
    assert list(positions_root.collection("openOrders").stream()) == []
    # The fills found by reconciliation are in the allocation's own audit trail.
    trail = intent_ref(db, intent_id).collection("events").stream()
    found = [e.to_dict() for e in trail if e.to_dict().get("reconciledBy") == recon]
    assert sorted((e["type"], e["orderRef"]) for e in found) == sorted(
        ("fill", o["orderRef"]) for o in orders
    )
    # A second reconciliation books nothing again.
    again = unique("recon")
    worker.handle(delivery({"intent": "trade-reconciliation", "id": again}))
    assert results.for_id(again)["result"]["reconciled"] == []
    assert holdings(positions_root) == {o["conId"]: o["filled"] for o in orders}


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"riskLimits.maxOrdersPerIntent": 1}, "risk-limit", "maxOrdersPerIntent"),
        ({"riskLimits.maxNotionalPerIntent": 1000}, "risk-limit", "maxNotionalPerIntent"),
        (
            {"riskLimits.allowedInstruments": ["SPY"]},
            "risk-limit",
            "TLT is not in allowedInstruments",
        ),
        ({"instruments.TLT.symbol": "NOPE1"}, "unknown-contract", "does not know TLT"),
    ],
)
def test_config_problems_fail_before_any_order(
    make_worker, flat_sim, positions_root, results, trading_config, change, code, words
):
    trading_config.change(change)
    intent_id = unique("alloc-bad")
    allocate(make_worker(flat_sim), intent_id)
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", code)
    assert words in result["error"]["message"]
    assert result["error"]["retryable"] is False
    assert flat_sim.api.broker.orders == {}


def test_unknown_strategy_is_named(make_worker, flat_sim, positions_root, results):
    intent_id = unique("alloc-strat")
    allocate(make_worker(flat_sim), intent_id, strategies=["moonshot"])
    error = results.for_id(intent_id)["error"]
    assert error["code"] == "unknown-strategy"
    assert f"(known: {', '.join(strategies.names())})" in error["message"]


def test_zero_overall_exposure_does_nothing(
    make_worker, flat_sim, positions_root, results, trading_config
):
    trading_config.change({"exposure.overall": 0})
    intent_id = unique("alloc-zero")
    allocate(make_worker(flat_sim), intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded" and result["result"]["orders"] == []
    assert flat_sim.api.broker.orders == {}


def test_an_earlier_attempts_order_cut_short_fails_the_intent_instead_of_reporting_success(
    make_worker, flat_sim, positions_root, results
):
    """The first attempt's SPY order half fills and is cancelled before the redelivery (the
    cancel an unacknowledged order gets, or one by hand): the redelivery never sends it again
    under its orderRef and says the intent fell short; trade-reconciliation books what filled."""
    flat_sim.state.faults.partial_fill = 0.5
    flat_sim.state.faults.drop_after_orders = 1
    worker = make_worker(flat_sim)
    intent_id = unique("alloc-cut")
    message = delivery({"intent": "allocation", "id": intent_id})
    assert worker.handle(message).status == 503
    (spy,) = flat_sim.api.broker.orders.values()
    assert 0 < spy.filled < spy.totalQuantity
    flat_sim.api.broker.cancel(spy.clientId, spy.orderId)
    flat_sim.state.faults.partial_fill = None
    assert worker.handle(message).status == 200
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "order-cut-short")
    assert result["error"]["retryable"] is False and spy.orderRef in result["error"]["message"]
    reported = {o["orderRef"]: o for o in result["result"]["orders"]}
    assert reported[spy.orderRef]["placedBefore"] is True
    assert reported[spy.orderRef]["filled"] == spy.filled
    assert [o.orderRef for o in flat_sim.api.broker.orders.values()].count(spy.orderRef) == 1
    # What the cut-short order filled waits in openOrders, and trade-reconciliation books it.
    waiting = [d.id for d in positions_root.collection("openOrders").stream()]
    assert waiting == [spy.orderRef]
    reconcile = delivery({"intent": "trade-reconciliation", "id": unique("recon")})
    assert worker.handle(reconcile).status == 200
    broker = {p.conId: p.quantity for p in flat_sim.state.positions}
    assert broker[SPY] == spy.filled and holdings(positions_root) == broker
    assert list(positions_root.collection("openOrders").stream()) == []


def test_a_market_data_permission_fault_fails_on_the_first_attempt_naming_the_instrument(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.state.faults.no_market_data = ["TLT"]
    intent_id = unique("alloc-perm")
    allocate(make_worker(flat_sim), intent_id)  # MAX_ATTEMPTS as deployed: no retry is asked
    result = results.for_id(intent_id)
    assert (result["status"], result["attempts"]) == ("failed", 1)
    assert result["error"]["code"] == "market-data-permission"
    assert result["error"]["retryable"] is False
    assert "TLT: IB error 354" in result["error"]["message"]
    assert "SPY" not in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}


def test_delayed_market_data_from_the_config_prices_the_allocation(
    make_worker, flat_sim, positions_root, results, trading_config
):
    flat_sim.state.faults.no_market_data = ["TLT"]
    trading_config.change({"marketDataType": "delayed"})  # config/paper: per mode
    intent_id = unique("alloc-delayed")
    allocate(make_worker(flat_sim), intent_id, dryRun=True)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert [o["symbol"] for o in result["result"]["orders"]] == ["SPY", "TLT"]
    priced_on = result["result"]["pricedOn"]
    assert sorted(priced_on) == ["SPY", "TLT"]
    assert all(t.startswith("delayed ") for t in priced_on.values())
