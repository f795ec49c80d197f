"""An order counts as sent only once the gateway acknowledged it: a hung gateway never gives a
false success, and a record of an order that never arrived is closed by trade-reconciliation."""

from __future__ import annotations

import pytest

from tests.support import delivery, events, intent_ref, unique
from tests.worker.intents.conftest import SPY, TLT
from worker.trading import order_desk


@pytest.fixture(autouse=True)
def short_ack(monkeypatch):
    monkeypatch.setattr(order_desk, "ACK_SECONDS", 4.0)  # a loaded machine still answers


def unstall(sim) -> None:
    """The gateway answers again; the hung connection is gone."""
    sim.state.faults.response_delay = 0.0
    sim.api.drop_all()


def test_a_stalled_gateway_fails_the_attempt_and_the_next_one_sends_only_what_never_arrived(
    make_worker, flat_sim, positions_root, results, db
):
    flat_sim.state.faults.stall_after_orders = 1  # answers the first order, then nothing
    worker = make_worker(flat_sim)
    intent_id = unique("stall")
    message = delivery({"intent": "allocation", "id": intent_id})
    first = worker.handle(message)
    assert first.status == 503
    error = first.body["error"]
    assert (error["code"], error["retryable"]) == ("order-unacknowledged", True)
    assert "did not acknowledge BUY" in error["message"] and "TLT" in error["message"]
    assert results.all_for(intent_id, settle=1) == []  # no result, let alone `succeeded`
    assert len(flat_sim.api.broker.orders) == 1  # the TLT order never reached the broker
    assert "order unacknowledged" in events(db, intent_id)
    unstall(flat_sim)
    assert worker.handle(message).status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = {o["symbol"]: o for o in result["result"]["orders"]}
    assert orders["SPY"]["placedBefore"] is True and "placedBefore" not in orders["TLT"]
    assert len(flat_sim.api.broker.orders) == 2  # each order once
    held = positions_root.collection("holdings").document("static-weights").get().to_dict()
    broker = {p.conId: p.quantity for p in flat_sim.state.positions}
    assert set(broker) == {SPY, TLT}
    assert held == {"positions": {str(k): v for k, v in broker.items()}}
    assert list(positions_root.collection("openOrders").stream()) == []


def test_a_record_of_an_order_that_never_arrived_is_closed_after_the_grace_period(
    make_worker, flat_sim, positions_root, results, db, trading_config
):
    flat_sim.state.faults.stall_after_orders = 1
    worker = make_worker(flat_sim, MAX_ATTEMPTS="1")  # no redelivery will send it again
    intent_id = unique("stall-lost")
    worker.handle(delivery({"intent": "allocation", "id": intent_id}))
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "order-unacknowledged")
    unstall(flat_sim)
    (lost,) = [d.to_dict() for d in positions_root.collection("openOrders").stream()]
    assert lost["permId"] is None and lost["symbol"] == "TLT"
    # Within the grace period the record waits (the order might still arrive) and counts.
    waiting = unique("recon")
    worker.handle(delivery({"intent": "trade-reconciliation", "id": waiting}))
    found = results.for_id(waiting)["result"]
    assert [w["note"] for w in found["waiting"]] == ["not known to the gateway"]
    assert found["neverArrived"] == []
    trading_config.change({"unacknowledgedOrderGraceSeconds": 0})
    recon = unique("recon")
    worker.handle(delivery({"intent": "trade-reconciliation", "id": recon}))
    found = results.for_id(recon)["result"]
    assert found["neverArrived"] == [lost["orderRef"]] and found["waiting"] == []
    assert list(positions_root.collection("openOrders").stream()) == []
    assert "order never arrived" in events(db, recon)
    assert "order never arrived" in events(db, intent_id)  # in the placing intent's trail too


def test_a_connection_lost_while_waiting_for_the_acknowledgement_is_audited_and_retried(
    make_worker, flat_sim, positions_root, results, db
):
    flat_sim.state.faults.drop_on_next_order = True  # the gateway goes away as the order arrives
    worker = make_worker(flat_sim)
    intent_id = unique("dropped")
    message = delivery({"intent": "allocation", "id": intent_id})
    first = worker.handle(message)
    assert first.status == 503 and first.body["error"]["retryable"] is True
    assert results.all_for(intent_id, settle=1) == []
    assert flat_sim.api.broker.orders == {}  # it never reached the broker
    # The order may have gone out: the trail says it was sent, unconfirmed.
    placed = [
        d.to_dict()
        for d in intent_ref(db, intent_id).collection("events").stream()
        if d.to_dict()["type"] == "order placed"
    ]
    assert [p.get("unconfirmed") for p in placed] == [True], placed
    assert worker.handle(message).status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert len(flat_sim.api.broker.orders) == 2  # each order once, the dropped one sent again
    assert not any(o.get("placedBefore") for o in result["result"]["orders"])
