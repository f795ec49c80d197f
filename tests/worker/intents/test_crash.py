"""The worker process killed (SIGKILL) after the first of several orders went out."""

from __future__ import annotations

import os
import signal
import time

from tests.support import publish, unique
from tests.worker.intents.conftest import SPY, TLT


def test_sigkill_after_the_first_order_then_redelivery_places_only_the_missing_one(
    stack, flat_sim, positions_root, results, worker_env
):
    # Short leases, so the new instance takes over from the dead one within seconds.
    worker_env(
        GATEWAY_MODE="external",
        IB_GATEWAY_PORT=str(flat_sim.port),
        LEASE_SECONDS="4",
        GATEWAY_LEASE_SECONDS="10",
    )
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
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    result = results.for_id(intent_id, timeout=90)
    assert result["status"] == "succeeded", result["error"]
    assert len(flat_sim.api.broker.orders) == 2  # the first order was not placed again
    targets = result["result"]["targets"]["static-weights"]
    held = positions_root.collection("holdings").document("static-weights").get().to_dict()
    assert held == {"positions": {str(SPY): float(targets["SPY"]), str(TLT): float(targets["TLT"])}}
    assert {p.conId: p.quantity for p in flat_sim.state.positions} == {
        SPY: targets["SPY"],
        TLT: targets["TLT"],
    }
