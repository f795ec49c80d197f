"""The external gateway's daily restart at its configured time (GATEWAY_RESTART_TIME, 23:15 New
York): the simulator's clock is set over its control port to just before it, an allocation is
published, and when the gateway's clock reaches the restart time (and the first order is out)
the gateway restarts as IBC's AutoRestart does (1100, port closed, back with the session and
the orders). One result per intent, no orderRef at the broker twice.

At 23:15 the market is closed, so the allocation asks `whenClosed: queue`: IB holds its DAY
orders for the open, which is what an order sent at that hour does."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from datetime import datetime, timedelta

import pytest

from simulator import Simulator, clock
from simulator.state import load
from tests.support import publish, unique, wait_until
from worker.gateway.restarts import NEW_YORK, GatewayCalendar

CALENDAR = GatewayCalendar.parse("23:15", "Sun 01:00")
RESTART = datetime(2026, 12, 9, 23, 15, tzinfo=NEW_YORK)  # a Wednesday


@pytest.fixture
def gateway():
    """The simulator as the external gateway, with its HTTP control port."""
    state = load(None)
    state.positions = []
    with Simulator(port=0, control_port=0, seed=3, state=state) as running:
        yield running


def control(sim: Simulator, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{sim.control_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_an_allocation_across_the_daily_restart_time_places_each_order_once(
    stack, gateway, positions_root, results, worker_env, trading_config
):
    worker_env(
        GATEWAY_MODE="external", IB_GATEWAY_PORT=str(gateway.port), GATEWAY_RESTART_TIME="23:15"
    )
    control(gateway, "/clock", {"now": (RESTART - timedelta(seconds=3)).isoformat()})
    gateway.state.faults.stall_after_orders = 1  # the first order goes out, then the restart
    restarted_at: list[datetime] = []
    done = threading.Event()

    def auto_restart() -> None:  # IBC's AutoRestartTime, by the gateway's own clock
        wait_until(
            lambda: (
                done.is_set() or (gateway.api.broker.orders and clock.now(gateway.state) >= RESTART)
            ),
            120,
            "the restart time with the first order out",
        )
        if done.is_set():
            return
        restarted_at.append(clock.now(gateway.state))
        gateway.api.broadcast_error(1100, "Connectivity between IB and TWS has been lost.")
        gateway.stop()
        gateway.state.faults.response_delay = 0.0
        done.wait(2.0)  # the gateway is away for a moment, then back with the session
        gateway.start()

    restarter = threading.Thread(target=auto_restart)
    restarter.start()
    intent_id = unique("daily-restart")
    try:
        publish(stack, {"intent": "allocation", "id": intent_id, "params": {"whenClosed": "queue"}})
        result = results.for_id(intent_id, timeout=180)
    finally:
        done.set()
        restarter.join(timeout=60)
    assert len(restarted_at) == 1 and CALENDAR.near_restart(restarted_at[0])
    assert restarted_at[0] >= RESTART  # restarted at the configured time, not before
    assert result["status"] == "succeeded", result["error"]
    assert len(results.all_for(intent_id)) == 1
    refs = Counter(order.orderRef for order in gateway.api.broker.orders.values())
    assert len(refs) == 2 and max(refs.values()) == 1, refs  # SPY and TLT, once each
    assert sorted(o["orderRef"] for o in result["result"]["orders"]) == sorted(refs)
    held = {o.orderRef: o.status for o in gateway.api.broker.orders.values()}
    assert set(held.values()) == {"PreSubmitted"}, held  # IB holds both DAY orders for the open
    # and the result says so, for the order the retried attempt took over too
    assert {o["status"] for o in result["result"]["orders"]} == {"PreSubmitted"}, result
    assert result["attempts"] >= 2  # the attempt the restart cut short was retried
