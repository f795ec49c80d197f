"""The external gateway restarts in the middle of an allocation (IB's 1100, then its port closed,
then back): the intent ends with one result, and no orderRef reaches the broker twice."""

from __future__ import annotations

import threading
from collections import Counter

from tests.support import events, publish, unique, wait_until


def test_an_allocation_across_a_gateway_restart_places_each_order_once(
    stack, db, flat_sim, positions_root, results, worker_env, trading_config
):
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    flat_sim.state.faults.stall_after_orders = 1  # the first order goes out, then the restart
    intent_id = unique("restart")
    publish(stack, {"intent": "allocation", "id": intent_id})
    wait_until(lambda: flat_sim.api.broker.orders, 60, "the first order at the broker")
    flat_sim.api.broadcast_error(1100, "Connectivity between IB and TWS has been lost.")
    flat_sim.stop()  # the gateway's daily restart: its port closes, connections are refused
    flat_sim.state.faults.response_delay = 0.0
    back = threading.Timer(2.0, flat_sim.start)  # IB keeps the orders across the restart
    back.start()
    try:
        result = results.for_id(intent_id, timeout=120)
    finally:
        back.join()
    assert result["status"] == "succeeded", result["error"]
    assert len(results.all_for(intent_id)) == 1
    refs = Counter(order.orderRef for order in flat_sim.api.broker.orders.values())
    assert len(refs) == 2 and max(refs.values()) == 1, refs  # SPY and TLT, once each
    reported = [o["orderRef"] for o in result["result"]["orders"]]
    assert sorted(reported) == sorted(refs)
    assert result["attempts"] >= 2  # the attempt the restart cut short was retried
    assert "order adopted" in events(db, intent_id) or any(
        o.get("placedBefore") for o in result["result"]["orders"]
    )


def test_an_allocation_across_1100_then_1102_places_each_order_once(
    stack, db, flat_sim, positions_root, results, worker_env, trading_config
):
    """IB loses and restores connectivity right after the first order (the gateway's own link
    restarts, the API connection stays): whether the next order saw the 1100 or not, one result
    and no orderRef twice."""
    worker_env(GATEWAY_MODE="external", IB_GATEWAY_PORT=str(flat_sim.port))
    sent = []

    def lose_then_restore() -> None:  # the simulator's loop, after an order or a fill
        if not sent:
            sent.append(1100)
            flat_sim.api.broadcast_error(1100, "Connectivity between IB and TWS has been lost.")
            flat_sim._loop.call_later(
                0.5,
                flat_sim.api.broadcast_error,
                1102,
                "Connectivity between IB and TWS has been restored - data maintained.",
            )

    flat_sim.api.on_change = lose_then_restore
    intent_id = unique("flap")
    try:
        publish(stack, {"intent": "allocation", "id": intent_id})
        result = results.for_id(intent_id, timeout=120)
    finally:
        flat_sim.api.on_change = lambda: None
    assert sent == [1100], result
    assert result["status"] == "succeeded", result["error"]
    assert len(results.all_for(intent_id)) == 1
    refs = Counter(order.orderRef for order in flat_sim.api.broker.orders.values())
    assert len(refs) == 2 and max(refs.values()) == 1, refs  # SPY and TLT, once each
    assert sorted(o["orderRef"] for o in result["result"]["orders"]) == sorted(refs)
