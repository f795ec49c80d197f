"""Orders still working count as held (issue: N runs with any ids never order more than the
target), against a simulator that fills half of each market order and leaves the rest working."""

from __future__ import annotations

import pytest

from tests.support import delivery, unique
from tests.worker.intents.conftest import SPY, TLT


def run(worker, name: str, intent_id: str, **params):
    return worker.handle(delivery({"intent": name, "id": intent_id, "params": params}))


def ordered(sim) -> dict[int, float]:
    """conId -> signed quantity of every order the broker ever received."""
    total: dict[int, float] = {}
    for order in sim.api.broker.orders.values():
        sign = 1 if order.action == "BUY" else -1
        con_id = order.instrument.conId
        total[con_id] = total.get(con_id, 0.0) + sign * order.totalQuantity
    return total


@pytest.fixture
def half_fills(flat_sim, trading_config, positions_root):
    """Half of each market order fills, the rest works; prices stand still, so the targets are
    the same number each run (60% SPY would sit on a rounding edge: 50/50 keeps clear of it)."""
    flat_sim.state.faults.partial_fill = 0.5
    flat_sim.state.faults.freeze_prices = True
    trading_config.change({"strategies.static-weights.weights": {"SPY": 0.5, "TLT": 0.5}})
    return flat_sim


def test_three_allocations_with_different_ids_order_the_target_once(
    make_worker, half_fills, results
):
    worker = make_worker(half_fills)
    found = []
    for _ in range(3):
        intent_id = unique("alloc-n")
        run(worker, "allocation", intent_id)
        result = results.for_id(intent_id)
        assert result["status"] == "succeeded", result["error"]
        found.append(result["result"])
    targets = found[0]["targets"]["static-weights"]
    assert all(r["targets"]["static-weights"] == targets for r in found)
    assert ordered(half_fills) == {SPY: targets["SPY"], TLT: targets["TLT"]}
    assert [len(r["orders"]) for r in found] == [2, 0, 0]
    working = {(w["orderRef"], w["state"]) for w in found[2]["working"]}
    assert working == {(o["orderRef"], "working") for o in found[0]["orders"]}


def test_close_all_while_orders_work_cancels_them_and_flattens_exactly(
    make_worker, half_fills, results, positions_root
):
    worker = make_worker(half_fills)
    alloc = unique("alloc")
    run(worker, "allocation", alloc)
    assert results.for_id(alloc)["status"] == "succeeded"
    held = {p.conId: p.quantity for p in half_fills.state.positions}
    assert held and all(q > 0 for q in held.values())  # half of each filled; the rest works
    close = unique("close")
    run(worker, "close-all", close)
    result = results.for_id(close)
    assert result["status"] == "succeeded", result["error"]
    assert len(result["result"]["cancel"]) == 2
    closing = {o["conId"]: (o["action"], o["quantity"]) for o in result["result"]["orders"]}
    assert closing == {c: ("SELL", q) for c, q in held.items()}  # what filled, not more
    broker = half_fills.api.broker
    assert {o.orderRef for o in broker.working()} == {
        o["orderRef"] for o in result["result"]["orders"]
    }
    # The closing orders fill half too: what they leave working is the rest of the position.
    assert {p.conId: p.quantity for p in half_fills.state.positions} == {
        c: q - q // 2 for c, q in held.items()
    }
    # Once they fill, the account is flat and the holdings agree.
    half_fills.state.faults.partial_fill = None
    for order in broker.working():
        broker.try_fill(order)
    assert half_fills.state.positions == []
    recon = unique("recon")
    run(worker, "trade-reconciliation", recon)
    result = results.for_id(recon)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["holdings"] == {} == result["result"]["ib"]


def test_a_working_conversion_is_not_converted_twice(make_worker, half_fills, results):
    worker = make_worker(half_fills)
    first = unique("cash")
    run(worker, "cash-balancer", first)
    result = results.for_id(first)
    assert result["status"] == "succeeded", result["error"]
    assert {o["symbol"]: o["quantity"] for o in result["result"]["orders"]} == {
        "EUR.USD": 12000,
        "USD.CHF": 8000,
    }
    second = unique("cash")
    run(worker, "cash-balancer", second)
    result = results.for_id(second)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["orders"] == []
    assert result["result"]["balances"]["EUR"]["afterWorking"] == 0
    assert len(half_fills.api.broker.orders) == 2
