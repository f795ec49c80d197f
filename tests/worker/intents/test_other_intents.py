"""cash-balancer, trade-reconciliation, collect-market-data and batch."""

from __future__ import annotations

import ib_async

from tests.support import delivery, unique
from tests.worker.intents.conftest import SPY, TLT


def run(worker, name: str, intent_id: str, **params):
    return worker.handle(delivery({"intent": name, "id": intent_id, "params": params}))


def test_cash_balancer_converts_cash_above_the_threshold(make_worker, flat_sim, results):
    worker = make_worker(flat_sim)
    dry = unique("cash-dry")
    run(worker, "cash-balancer", dry, dryRun=True)
    planned = {
        o["symbol"]: (o["action"], o["quantity"]) for o in results.for_id(dry)["result"]["orders"]
    }
    # CHF 8,000 buys USD 8,000 (about CHF 7,143): never more than the balance.
    assert planned == {"EUR.USD": ("SELL", 12000), "USD.CHF": ("BUY", 8000)}
    priced_on = results.for_id(dry)["result"]["pricedOn"]  # each rate sizing an order
    assert set(priced_on) == {"EUR.USD", "USD.CHF"}
    assert {t.split()[0] for t in priced_on.values()} == {"live"}
    assert flat_sim.api.broker.orders == {}
    intent_id = unique("cash")
    run(worker, "cash-balancer", intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    cash = flat_sim.state.cash
    assert cash["EUR"] == 0 and 0 <= cash["CHF"] < 1000
    assert set(result["result"]["pricedOn"]) == {"EUR.USD", "USD.CHF"}


def test_reconciliation_moves_filled_open_orders_into_holdings(
    make_worker, flat_sim, positions_root, results
):
    client = ib_async.IB()
    client.connect("127.0.0.1", flat_sim.port, clientId=77, timeout=5)
    try:
        spy = client.qualifyContracts(ib_async.Stock("SPY", "SMART", "USD"))[0]
        trade = client.placeOrder(spy, ib_async.MarketOrder("BUY", 30, orderRef="manual:1"))
        client.sleep(0.3)
    finally:
        client.disconnect()
    positions_root.collection("openOrders").document("manual:1").set(
        {
            "conId": SPY,
            "quantity": 30,
            "sources": {"alpha": 20, "beta": 10},
            "permId": trade.order.permId,
            "orderId": trade.order.orderId,
        }
    )
    intent_id = unique("recon")
    run(make_worker(flat_sim), "trade-reconciliation", intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["reconciled"] == ["manual:1"]
    alpha = positions_root.collection("holdings").document("alpha").get().to_dict()
    assert alpha == {"positions": {str(SPY): 20.0}}
    assert not positions_root.collection("openOrders").document("manual:1").get().exists


def test_reconciliation_mismatch_fails_with_both_views(
    make_worker, flat_sim, positions_root, results
):
    positions_root.collection("holdings").document("alpha").set({"positions": {str(TLT): 5}})
    intent_id = unique("recon-bad")
    run(make_worker(flat_sim), "trade-reconciliation", intent_id)
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "reconciliation-mismatch")
    # Named by symbol although neither IB nor an order knows it any more (asked the gateway).
    assert f"TLT (conId {TLT}): holdings 5 vs IB 0" in result["error"]["message"]
    assert result["result"]["holdings"] == {"TLT": 5.0} and result["result"]["ib"] == {}
    assert result["result"]["conIds"] == {"TLT": TLT}


def test_collect_market_data_is_idempotent_per_bar(make_worker, flat_sim, results, db):
    worker = make_worker(flat_sim)
    first, second = unique("bars"), unique("bars")
    run(worker, "collect-market-data", first, instruments=["SPY"], duration="10 D")
    stored = results.for_id(first)["result"]["stored"]["SPY"]
    daily = db.collection("marketData").document("SPY").collection("daily")
    count = len(list(daily.list_documents()))
    assert stored["bars"] == 7 and count >= 7
    run(worker, "collect-market-data", second, instruments=["SPY"], duration="10 D")
    assert results.for_id(second)["status"] == "succeeded"
    assert len(list(daily.list_documents())) == count
    bar = daily.document(stored["last"].replace("-", "")).get().to_dict()
    assert bar["low"] <= bar["close"] <= bar["high"]


def test_collect_market_data_fails_when_ib_refuses_and_names_the_instrument(
    make_worker, flat_sim, results
):
    worker = make_worker(flat_sim)
    refused = unique("bars-refused")
    run(worker, "collect-market-data", refused, instruments=["SPY"], duration="999999999 Y")
    result = results.for_id(refused)
    assert (result["status"], result["error"]["code"]) == ("failed", "market-data")
    assert "IB refused daily bars of SPY over '999999999 Y': 162" in result["error"]["message"]
    assert result["error"]["retryable"] is False
    assert result["result"]["stored"]["SPY"]["bars"] == 0
    flat_sim.state.faults.pacing_violation = True  # the first instrument's request only
    paced = unique("bars-paced")
    run(worker, "collect-market-data", paced, instruments=["SPY", "TLT"], duration="5 D")
    result = results.for_id(paced, timeout=60)  # IB's violation waited out in the attempt
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["stored"]["SPY"]["bars"] == 3 and result["attempts"] == 1


def test_collect_market_data_writes_more_bars_than_one_firestore_batch_holds(
    make_worker, flat_sim, results, db
):
    intent_id = unique("bars-many")
    run(
        make_worker(flat_sim), "collect-market-data", intent_id, instruments=["QQQ"], duration="2 Y"
    )
    result = results.for_id(intent_id, timeout=60)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["stored"]["QQQ"]["bars"] == 504
    daily = db.collection("marketData").document("QQQ").collection("daily")
    assert len(list(daily.list_documents())) >= 504


def test_batch_runs_steps_in_one_session_and_stops_at_the_first_failure(
    make_worker, flat_sim, positions_root, results
):
    worker = make_worker(flat_sim)
    ok = unique("batch")
    run(
        worker,
        "batch",
        ok,
        steps=[
            {"intent": "trade-reconciliation"},
            {"intent": "allocation", "params": {"strategies": ["static-weights"]}},
            {"intent": "summary"},
        ],
    )
    result = results.for_id(ok)
    assert result["status"] == "succeeded", result["error"]
    steps = result["result"]["steps"]
    assert [s["status"] for s in steps] == ["succeeded"] * 3
    refs = [o["orderRef"] for o in steps[1]["result"]["orders"]]
    assert refs and all(r.startswith(f"{ok}#s2:alloc:") for r in refs)
    assert {p["symbol"] for p in steps[2]["result"]["portfolio"]} == {"SPY", "TLT"}
    bad = unique("batch-bad")
    run(
        worker,
        "batch",
        bad,
        steps=[
            {"intent": "summary"},
            {"intent": "allocation", "params": {"strategies": ["moonshot"]}},
            {"intent": "summary"},
        ],
    )
    result = results.for_id(bad)
    assert result["status"] == "failed"
    assert result["error"]["message"].startswith("step 2 (allocation) failed: unknown strategy")
    assert [s["status"] for s in result["result"]["steps"]] == ["succeeded", "failed"]


def test_batch_with_bad_step_params_runs_nothing(make_worker, flat_sim, results):
    intent_id = unique("batch-params")
    run(
        make_worker(flat_sim),
        "batch",
        intent_id,
        steps=[{"intent": "summary"}, {"intent": "close-all", "params": {"dryrun": True}}],
    )
    result = results.for_id(intent_id)
    assert result["status"] == "rejected"
    error = result["error"]
    assert error["code"] == "bad-params" and "params.steps[1].params.dryrun" in error["message"]
    assert flat_sim.api.broker.orders == {}


def test_batch_risk_limits_count_the_orders_of_every_step(
    make_worker, flat_sim, results, trading_config
):
    trading_config.change({"riskLimits.maxOrdersPerIntent": 3})
    intent_id = unique("batch-limits")
    run(
        make_worker(flat_sim),
        "batch",
        intent_id,
        steps=[{"intent": "cash-balancer"}, {"intent": "allocation"}],
    )
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "risk-limit")
    assert (
        "4 orders (with 2 of earlier steps) exceed maxOrdersPerIntent 3"
        in (result["error"]["message"])
    )
    assert len(flat_sim.api.broker.orders) == 2  # the cash-balancer's, none of the allocation's


def test_batch_redelivered_after_a_lost_connection_places_each_order_once(
    make_worker, flat_sim, positions_root, results, db
):
    flat_sim.state.faults.drop_after_orders = 1
    worker = make_worker(flat_sim)
    intent_id = unique("batch-drop")
    message = delivery(
        {"intent": "batch", "id": intent_id, "params": {"steps": [{"intent": "allocation"}]}}
    )
    first = worker.handle(message)
    assert first.status == 503 and first.body["error"]["retryable"] is True
    assert "step 1 (allocation) failed" in first.body["error"]["message"]
    assert worker.handle(message).status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert len(flat_sim.api.broker.orders) == 2
    placed = result["result"]["steps"][0]["result"]["orders"]
    assert [o.get("placedBefore", False) for o in placed].count(True) == 1
