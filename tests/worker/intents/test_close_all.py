"""`close-all` against a simulator the test owns (its broker state outlives gateway sessions)."""

from __future__ import annotations

import ib_async
import pytest

from tests.support import delivery, events, pipeline, unique

SPY, TLT = 756733, 15547841


@pytest.fixture
def worker(stack, sim, trading_config):
    built = pipeline(stack, GATEWAY_MODE="external", IB_GATEWAY_PORT=str(sim.port))
    yield built
    built.session.close()


@pytest.fixture
def holdings(positions_root):
    """Only these strategy holdings (positions_root clears before and after), matching the
    simulator's default portfolio."""
    root = positions_root.collection("holdings")
    root.document("alpha").set({"positions": {str(SPY): 60}})
    root.document("beta").set({"positions": {str(SPY): 40, str(TLT): 50}})
    return root


def run(worker, intent_id: str, **params):
    return worker.handle(delivery({"intent": "close-all", "id": intent_id, "params": params}))


def test_flattens_every_strategy_and_records_it(worker, sim, holdings, results, db):
    intent_id = unique("close")
    assert run(worker, intent_id).status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = {o["symbol"]: o for o in result["result"]["orders"]}
    assert (orders["SPY"]["action"], orders["SPY"]["quantity"]) == ("SELL", 100)
    assert orders["SPY"]["sources"] == {"alpha": -60, "beta": -40}  # what the order changes
    assert all(o["orderRef"].startswith(f"{intent_id}:close:") for o in orders.values())
    assert result["result"]["mismatch"] == []
    # Each order's risk check used IB's portfolio mark, or a quote where IB sent no mark.
    priced_on = result["result"]["pricedOn"]
    assert set(priced_on) == set(orders)
    assert set(priced_on.values()) <= {"portfolio mark", "live last", "live midpoint"}
    assert sim.state.positions == []  # the broker saw both orders
    assert [o.orderRef for o in sim.api.broker.orders.values()] == [
        o["orderRef"] for o in result["result"]["orders"]
    ]
    assert all(not (d.to_dict() or {}).get("positions") for d in holdings.stream())
    trail = events(db, intent_id)
    assert trail.count("order placed") == 2 and trail.count("fill") == 2


def test_dry_run_places_nothing(worker, sim, holdings, results):
    intent_id = unique("dry")
    run(worker, intent_id, dryRun=True)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded"
    assert [o["symbol"] for o in result["result"]["orders"]] == ["SPY", "TLT"]
    assert sim.api.broker.orders == {}


def test_redelivery_after_a_crash_mid_intent_places_only_the_missing_order(
    worker, sim, holdings, results
):
    sim.state.faults.drop_after_orders = 1  # the connection dies after the first order
    intent_id = unique("crash")
    message = delivery({"intent": "close-all", "id": intent_id})
    first = worker.handle(message)
    assert first.status == 503 and first.body["error"]["retryable"] is True
    assert len(sim.api.broker.orders) == 1
    second = worker.handle(message)  # Pub/Sub redelivers
    assert second.status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert len(sim.api.broker.orders) == 2  # each order exactly once
    assert sorted(o.orderRef for o in sim.api.broker.orders.values()) == sorted(
        o["orderRef"] for o in result["result"]["orders"]
    )
    assert sim.state.positions == []
    assert worker.handle(message).status == 200  # a late duplicate changes nothing
    assert len(sim.api.broker.orders) == 2


def test_read_only_api_fails_with_the_fix(worker, sim, holdings, results):
    sim.state.faults.read_only = True
    intent_id = unique("ro")
    run(worker, intent_id)
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "ib-321")
    assert "ReadOnlyApi=no" in result["error"]["message"]
    assert result["error"]["retryable"] is False


def test_broker_rejection_carries_ibs_reason(worker, sim, holdings, results):
    sim.state.faults.reject_next_order = "insufficient buying power"
    intent_id = unique("rej")
    run(worker, intent_id)
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "broker-rejected")
    assert "insufficient buying power" in result["error"]["message"]


def test_risk_limit_fails_before_any_order(worker, sim, holdings, results, trading_config):
    trading_config.change({"riskLimits.maxNotionalPerOrder": 10_000})
    intent_id = unique("risk")
    run(worker, intent_id)
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "risk-limit")
    assert "maxNotionalPerOrder" in result["error"]["message"]
    assert sim.api.broker.orders == {}


def test_mismatch_between_holdings_and_ib_is_reported(worker, sim, holdings, results):
    holdings.document("alpha").set({"positions": {str(SPY): 10}})  # IB holds 100 SPY
    intent_id = unique("mismatch")
    run(worker, intent_id, dryRun=True)
    mismatch = results.for_id(intent_id)["result"]["mismatch"]
    assert mismatch == [{"symbol": "SPY", "conId": SPY, "holdings": 50.0, "ib": 100.0}]


def test_live_worker_ignores_a_close_all_that_does_not_say_live(
    stack, sim, holdings, results, trading_config
):
    live = pipeline(
        stack, GATEWAY_MODE="external", IB_GATEWAY_PORT=str(sim.port), TRADING_MODE="live"
    )
    try:
        intent_id = unique("live")
        answer = live.handle(delivery({"intent": "close-all", "id": intent_id}))
        assert answer.status == 200 and "ignored" in answer.body
        assert sim.api.broker.orders == {}
    finally:
        live.session.close()


def test_an_order_it_cannot_cancel_stops_it_before_any_close_order(worker, sim, holdings, results):
    other = ib_async.IB()
    other.connect("127.0.0.1", sim.port, clientId=42, timeout=5)
    try:
        spy = other.qualifyContracts(ib_async.Stock("SPY", "SMART", "USD"))[0]
        other.placeOrder(spy, ib_async.LimitOrder("BUY", 5, 1.0, orderRef="manual-rest"))
        other.sleep(0.3)
        intent_id = unique("uncancelled")
        run(worker, intent_id)
    finally:
        other.disconnect()
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "cancel-failed")
    assert "could not cancel manual-rest" in result["error"]["message"]
    assert [o.orderRef for o in sim.api.broker.orders.values()] == ["manual-rest"]
