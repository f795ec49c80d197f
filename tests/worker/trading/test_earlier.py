"""Orders an earlier attempt placed: found by orderRef, reported and booked as the broker has
them (no gateway)."""

from __future__ import annotations

import ib_async

from worker.trading.broker_orders import BrokerOrder
from worker.trading.earlier import sent_before
from worker.trading.order_plan import OrderRequest

SPY = 756733


def at_broker(ref: str, quantity: float, filled: float, is_open: bool, perm: int) -> BrokerOrder:
    return BrokerOrder(ref, perm, perm, SPY, "SPY", "BUY", quantity, filled, is_open)


def test_only_the_intents_own_order_refs_and_each_ref_once():
    found = sent_before(
        [
            at_broker("i1:alloc:1", 66, 33, True, 1),
            at_broker("i1:alloc:1", 10, 10, False, 2),  # the same ref twice: added up
            at_broker("i10:alloc:1", 5, 5, False, 3),  # another intent whose id starts alike
            at_broker("manual", 1, 1, False, 4),
        ],
        "i1",
    )
    (sent,) = found.values()
    assert (sent.quantity, sent.filled, sent.is_open, sent.status) == (76, 43, True, "Submitted")


def test_an_order_in_the_plan_is_reported_at_its_real_size_with_its_recorded_split():
    (sent,) = sent_before([at_broker("i1:alloc:1", 66, 66, False, 1)], "i1").values()
    request = OrderRequest(
        ib_async.Contract(conId=SPY, symbol="SPY"), "BUY", 70, "i1:alloc:1", sources={"a": 70}
    )
    record = {"orderRef": "i1:alloc:1", "quantity": 66, "sources": {"a": 44, "b": 22}}
    outcome = sent.outcome(request, record)
    assert (outcome["quantity"], outcome["status"], outcome["placedBefore"]) == (66, "Filled", True)
    assert outcome["sources"] == {"a": 44, "b": 22}
    assert sent.outcome(request, None)["sources"] == {"a": 66}  # scaled from the request
    request.action = "SELL"  # the target moved between attempts: the broker's side is reported
    turned = sent.outcome(request, None)
    assert (turned["action"], turned["sources"]) == ("BUY", None)


def test_an_order_the_plan_no_longer_has_is_booked_only_with_its_record():
    (sent,) = sent_before([at_broker("i1:alloc:1", 66, 20, False, 1)], "i1").values()
    alone = sent.alone({"quantity": 66, "sources": {"a": 66}})
    assert (alone["status"], alone["filled"], alone["sources"]) == ("Cancelled", 20, {"a": 66})
    assert alone["orderRef"] == "i1:alloc:1" and alone["conId"] == SPY
    assert sent.alone(None)["sources"] is None  # not booked: nobody knows its strategies


def test_an_id_containing_a_colon_is_matched_whole():
    broker = [
        at_broker("rebal:2:alloc:1", 5, 5, False, 1),
        at_broker("rebal:alloc:1", 6, 6, False, 2),
    ]
    assert list(sent_before(broker, "rebal")) == ["rebal:alloc:1"]
    assert list(sent_before(broker, "rebal:2")) == ["rebal:2:alloc:1"]


def test_an_order_ib_holds_for_the_open_is_reported_as_ib_has_it():
    held = BrokerOrder("i1:alloc:1", 1, 1, SPY, "SPY", "BUY", 66, 0, True, "PreSubmitted")
    (sent,) = sent_before([held], "i1").values()
    assert sent.status == "PreSubmitted"
    request = OrderRequest(ib_async.Contract(conId=SPY, symbol="SPY"), "BUY", 66, "i1:alloc:1")
    assert sent.outcome(request, None)["status"] == "PreSubmitted"
    assert sent.alone(None)["status"] == "PreSubmitted"
    # part filled and still held: IB's status; ended short: Cancelled, as before
    part = BrokerOrder("i1:alloc:1", 1, 1, SPY, "SPY", "BUY", 66, 6, True, "Submitted")
    assert sent_before([part], "i1")["i1:alloc:1"].status == "Submitted"
    gone = BrokerOrder("i1:alloc:1", 1, 1, SPY, "SPY", "BUY", 66, 6, False, "")
    assert sent_before([gone], "i1")["i1:alloc:1"].status == "Cancelled"


def test_an_adopted_limit_order_is_reported_at_the_limit_ib_holds():
    """Attempt 2 computes a new limit from a new quote; the order at IB keeps attempt 1's."""
    held = BrokerOrder("i1:alloc:1", 1, 1, SPY, "SPY", "BUY", 66, 0, True, "Submitted", 100.05)
    (sent,) = sent_before([held], "i1").values()
    request = OrderRequest(
        ib_async.Contract(conId=SPY, symbol="SPY"), "BUY", 66, "i1:alloc:1", order_type="LMT"
    )
    request.limit = 100.30
    assert sent.outcome(request, None)["limitPrice"] == 100.05
    assert sent.alone(None)["limitPrice"] == 100.05
