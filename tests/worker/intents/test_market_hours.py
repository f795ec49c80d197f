"""The simulator's clock set to a holiday, an early close, a weekend and a normal session: the
market hours IB's ContractDetails give decide, and no order goes out where none should."""

from __future__ import annotations

import pytest

from tests.support import delivery, unique

CLOSED_TIMES = {
    "christmas": ("2026-12-25T15:45:00-05:00", "2026-12-28T09:30:00-05:00"),
    "after the early close": ("2026-11-27T13:30:00-05:00", "2026-11-30T09:30:00-05:00"),
    "saturday": ("2026-12-05T15:45:00-05:00", "2026-12-07T09:30:00-05:00"),
}
NORMAL = "2026-12-07T15:45:00-05:00"


def run(worker, intent: str, intent_id: str, **params):
    return worker.handle(delivery({"intent": intent, "id": intent_id, "params": params}))


@pytest.mark.parametrize("name", sorted(CLOSED_TIMES))
def test_a_closed_market_skips_the_allocation_by_default(
    make_worker, flat_sim, positions_root, results, name
):
    now, next_open = CLOSED_TIMES[name]
    flat_sim.call("POST", "/clock", {"now": now})
    worker = make_worker(flat_sim)
    intent_id = unique("alloc-closed")
    run(worker, "allocation", intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    body = result["result"]
    assert body["orders"] == []
    assert [o["symbol"] for o in body["skipped"]] == ["SPY", "TLT"]
    assert body["whenClosed"] == "skip"
    assert body["closed"] == {
        "SPY": {"nextOpen": next_open},
        "TLT": {"nextOpen": next_open},
    }
    assert flat_sim.api.broker.orders == {}


def test_a_dry_run_reports_the_closed_market_the_same_way(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": CLOSED_TIMES["christmas"][0]})
    intent_id = unique("alloc-closed-dry")
    run(make_worker(flat_sim), "allocation", intent_id, dryRun=True)
    body = results.for_id(intent_id)["result"]
    assert body["dryRun"] is True and body["orders"] == []
    assert body["closed"]["SPY"] == {"nextOpen": "2026-12-28T09:30:00-05:00"}
    assert "no order placed" in body["note"]
    assert flat_sim.api.broker.orders == {}


def test_when_closed_fail_fails_the_intent_and_places_nothing(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": CLOSED_TIMES["saturday"][0]})
    intent_id = unique("alloc-closed-fail")
    run(make_worker(flat_sim), "allocation", intent_id, whenClosed="fail")
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "market-closed")
    assert result["error"]["retryable"] is False
    assert "SPY" in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}


def test_when_closed_queue_refuses_a_tif_ib_would_not_hold(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": CLOSED_TIMES["christmas"][0]})
    intent_id = unique("alloc-closed-ioc")
    run(
        make_worker(flat_sim),
        "allocation",
        intent_id,
        whenClosed="queue",
        orderProperties={"tif": "IOC"},
    )
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "bad-params")
    assert flat_sim.api.broker.orders == {}


def test_a_normal_session_trades(make_worker, flat_sim, positions_root, results):
    flat_sim.call("POST", "/clock", {"now": NORMAL})
    intent_id = unique("alloc-open")
    run(make_worker(flat_sim), "allocation", intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert "closed" not in result["result"]
    assert {o["status"] for o in result["result"]["orders"]} == {"Filled"}
    assert len(flat_sim.api.broker.orders) == 2


def test_close_all_on_a_holiday_neither_cancels_nor_sells(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": NORMAL})
    worker = make_worker(flat_sim)
    run(worker, "allocation", unique("alloc-open"))  # the strategy now holds SPY and TLT
    bought = dict(flat_sim.api.broker.orders)
    assert len(bought) == 2
    flat_sim.call("POST", "/clock", {"now": CLOSED_TIMES["christmas"][0]})
    intent_id = unique("close-closed")
    run(worker, "close-all", intent_id)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["orders"] == []
    assert sorted(o["action"] for o in result["result"]["skipped"]) == ["SELL", "SELL"]
    assert flat_sim.api.broker.orders == bought  # nothing new


def test_when_closed_queue_sends_day_orders_ib_holds_until_the_open(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": CLOSED_TIMES["christmas"][0]})
    intent_id = unique("alloc-queue")
    run(make_worker(flat_sim), "allocation", intent_id, whenClosed="queue")
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    body = result["result"]
    assert body["whenClosed"] == "queue" and "IB holds them" in body["note"]
    assert {o["status"] for o in body["orders"]} == {"PreSubmitted"}
    held = list(flat_sim.api.broker.orders.values())
    assert len(held) == 2 and {o.tif for o in held} == {"DAY"}
    assert flat_sim.state.positions == []
    flat_sim.call("POST", "/clock", {"now": "2026-12-28T09:31:00-05:00"})
    assert {o.status for o in held} == {"Filled"}
