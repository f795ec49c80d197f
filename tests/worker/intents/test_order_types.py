"""Order types over the stack, with the simulator's clock set: MOC refused after the 15:50
cut-off with no order placed, MOC before it working until the simulated close and filled there,
and a normal session's marketable limit filled, the result naming the type and limit; a resting
limit's remainder cancelled by the unfilled policy."""

from __future__ import annotations

import pytest

from tests.support import delivery, unique

NORMAL = "2026-12-07T15:45:00-05:00"


def run(worker, intent_id: str, **params):
    return worker.handle(delivery({"intent": "allocation", "id": intent_id, "params": params}))


def test_moc_after_the_cutoff_is_refused_and_nothing_is_placed(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": "2026-12-07T15:55:00-05:00"})
    intent_id = unique("alloc-moc-late")
    run(make_worker(flat_sim), intent_id, orderProperties={"orderType": "MOC"})
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "close-cutoff")
    assert result["error"]["retryable"] is False
    assert "SPY (cut-off 15:50 US/Eastern)" in result["error"]["message"]
    assert result["attempts"] == 1
    assert flat_sim.api.broker.orders == {}


def test_a_dry_run_is_refused_at_the_cutoff_as_the_real_run_would_be(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": "2026-11-27T12:55:00-05:00"})  # early close 13:00
    intent_id = unique("alloc-loc-late-dry")
    properties = {"orderType": "LOC", "limitOffsetBps": 5}
    run(make_worker(flat_sim), intent_id, dryRun=True, orderProperties=properties)
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "close-cutoff")
    assert "cut-off 12:50 US/Eastern" in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}


def test_close_orders_are_not_queued_for_a_closed_market(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": "2026-12-05T15:45:00-05:00"})  # a Saturday
    intent_id = unique("alloc-moc-queue")
    run(make_worker(flat_sim), intent_id, whenClosed="queue", orderProperties={"orderType": "MOC"})
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "bad-params")
    assert "today's close" in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}


def test_moc_before_the_cutoff_works_until_the_close_and_fills_there(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": NORMAL})
    intent_id = unique("alloc-moc")
    run(make_worker(flat_sim), intent_id, orderProperties={"orderType": "MOC"})
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = result["result"]["orders"]
    assert {o["orderType"] for o in orders} == {"MOC"}
    assert {o["status"] for o in orders} <= {"PreSubmitted", "Submitted"}
    placed = list(flat_sim.api.broker.orders.values())
    assert len(placed) == 2 and {(o.orderType, o.tif) for o in placed} == {("MOC", "DAY")}
    assert flat_sim.api.broker.executions == []
    flat_sim.call("POST", "/clock", {"now": "2026-12-07T16:01:00-05:00"})
    assert {o.status for o in placed} == {"Filled"}
    assert {e.time.isoformat() for e in flat_sim.api.broker.executions} == {
        "2026-12-07T21:00:00+00:00"
    }


def test_a_normal_session_limit_allocation_fills_and_reports_its_limit(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": NORMAL})
    intent_id = unique("alloc-lmt")
    run(
        make_worker(flat_sim), intent_id, orderProperties={"orderType": "LMT", "limitOffsetBps": 10}
    )
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = result["result"]["orders"]
    assert {o["orderType"] for o in orders} == {"LMT"} and {o["status"] for o in orders} == {
        "Filled"
    }
    for order in orders:
        assert order["avgFillPrice"] <= order["limitPrice"]  # buys, at or under the limit
        assert round(order["limitPrice"] * 100) == order["limitPrice"] * 100  # on the tick
    placed = list(flat_sim.api.broker.orders.values())
    assert {(o.orderType, o.orderRef) for o in placed} == {("LMT", o["orderRef"]) for o in orders}


def test_a_resting_limit_is_cancelled_by_the_unfilled_policy_and_not_sent_again(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": NORMAL})
    flat_sim.call("POST", "/faults", {"freeze_prices": True})  # the quote stays where it is
    worker = make_worker(flat_sim)
    intent_id = unique("alloc-lmt-rest")
    properties = {  # at the mid: below the simulator's ask, so it rests
        "orderType": "LMT",
        "limitOffsetBps": 0,
        "unfilledAfterSeconds": 1,
        "unfilled": "cancel",
    }
    run(worker, intent_id, orderProperties=properties)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    orders = result["result"]["orders"]
    assert {o["status"] for o in orders} == {"Cancelled"}
    assert all("remainder cancelled after 1 s" in o["unfilled"] for o in orders)
    run(worker, intent_id, orderProperties=properties)  # a redelivery
    assert len(flat_sim.api.broker.orders) == 2


BAD = {
    "negative offset": ({"orderType": "LMT", "limitOffsetBps": -5}, "less than the minimum"),
    "NaN offset": ({"orderType": "LMT", "limitOffsetBps": float("nan")}, "NaN is not"),
    "huge offset": ({"orderType": "LMT", "limitOffsetBps": 1e12}, "greater than the maximum"),
    "MOC with tif GTC": ({"orderType": "MOC", "tif": "GTC"}, "tif must be DAY"),
    "LOC without a price source": ({"orderType": "LOC"}, "need limitOffsetBps"),
    "unknown type": ({"orderType": "STP"}, "'STP' is not one of"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_order_properties_end_in_one_result_not_retried(
    make_worker, flat_sim, positions_root, results, case
):
    properties, words = BAD[case]
    intent_id = unique("alloc-bad-type")
    # NaN is no JSON: the message is unreadable and its result goes under its message id
    answer = make_worker(flat_sim).handle(
        delivery(
            {"intent": "allocation", "id": intent_id, "params": {"orderProperties": properties}},
            message_id=intent_id,
        )
    )
    assert answer.status == 200  # acked: Pub/Sub does not deliver it again
    (result,) = results.all_for(intent_id)
    assert result["status"] == "rejected"
    assert result["error"]["code"] in ("bad-params", "invalid-json")
    assert result["error"]["retryable"] is False
    assert words in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}
