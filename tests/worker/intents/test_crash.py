"""The worker process killed (SIGKILL) after the first of several orders went out: the
redelivery reports and books it (never places it again), even when its plan no longer has it."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

from tests.support import intent_ref, publish, unique
from tests.worker.intents.conftest import SPY, TLT


def test_sigkill_after_the_first_order_then_redelivery_places_only_the_missing_one(
    stack, db, flat_sim, positions_root, results, worker_env, trading_config
):
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    flat_sim.state.faults.stall_after_orders = 1  # the gateway hangs after the first order
    intent_id = unique("kill")
    publish(stack, {"intent": "allocation", "id": intent_id})
    deadline = time.monotonic() + 30
    while not flat_sim.api.broker.orders and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(flat_sim.api.broker.orders) == 1
    worker = stack.children.pop("worker")
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    worker.stop()
    flat_sim.state.faults.response_delay = 0.0
    flat_sim.api.drop_all()  # the dead worker's connection
    # Time passes: the dead instance's leases on the intent and on the gateway run out.
    past = datetime.now(UTC) - timedelta(seconds=1)
    intent_ref(db, intent_id).update({"lease.expiresAt": past})
    db.collection("locks").document("gateway-paper").update({"expiresAt": past})
    # Meanwhile SPY leaves the strategy: the recomputed plan has no SPY order, and the order
    # the dead attempt placed is still reported and booked (from its openOrders record).
    trading_config.change({"strategies.static-weights.weights": {"TLT": 0.4}})
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    result = results.for_id(intent_id, timeout=90)
    assert result["status"] == "succeeded", result["error"]
    assert len(flat_sim.api.broker.orders) == 2  # the first order was not placed again
    held = positions_root.collection("holdings").document("static-weights").get().to_dict()
    broker = {p.conId: p.quantity for p in flat_sim.state.positions}
    assert set(broker) == {SPY, TLT}
    assert held == {"positions": {str(k): v for k, v in broker.items()}}
    first = next(iter(flat_sim.api.broker.orders.values()))
    again = [o for o in result["result"]["orders"] if o["orderRef"] == first.orderRef]
    assert again[0]["placedBefore"] is True
    assert again[0]["quantity"] == first.totalQuantity  # booked as placed, not as recomputed


def test_sigkill_before_the_acknowledgement_then_the_redelivery_adopts_the_order_in_the_trail(
    stack, db, flat_sim, positions_root, results, worker_env, trading_config
):
    """The broker books the first order and the worker dies before its answer comes back: no
    `order placed` for it; the attempt that finds it writes `order adopted` with what the
    broker has (ids, status, fills), and sends it no second time."""
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    worker = stack.children.pop("worker")
    killed = threading.Event()

    def kill_before_the_answer() -> None:  # the simulator's thread, before it answers
        if not killed.is_set():
            killed.set()
            os.killpg(worker.proc.pid, signal.SIGKILL)

    flat_sim.api.on_change = kill_before_the_answer
    intent_id = unique("unacked")
    try:
        publish(stack, {"intent": "allocation", "id": intent_id})
        assert killed.wait(60), "no order reached the broker"
    finally:
        if not killed.is_set():
            os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=10)
        worker.stop()
        flat_sim.api.on_change = lambda: None
    flat_sim.api.drop_all()  # the dead worker's connection
    past = datetime.now(UTC) - timedelta(seconds=1)
    intent_ref(db, intent_id).update({"lease.expiresAt": past})
    db.collection("locks").document("gateway-paper").update({"expiresAt": past})
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    result = results.for_id(intent_id, timeout=90)
    assert result["status"] == "succeeded", result["error"]
    orders = list(flat_sim.api.broker.orders.values())
    assert len(orders) == 2  # the first one was not sent again
    first = orders[0]
    trail = [d.to_dict() for d in intent_ref(db, intent_id).collection("events").stream()]
    adopted = [e for e in trail if e["type"] == "order adopted"]
    assert len(adopted) == 1
    event = adopted[0]
    assert (event["orderRef"], event["orderId"], event["permId"]) == (
        first.orderRef,
        first.orderId,
        first.permId,
    )
    assert (event["status"], event["filled"]) == ("Filled", first.totalQuantity)
    assert sum(f["shares"] for f in event["fills"]) == first.totalQuantity
    placed = [e["orderRef"] for e in trail if e["type"] == "order placed"]
    assert first.orderRef not in placed and len(placed) == 1
