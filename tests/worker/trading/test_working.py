"""Working-order arithmetic: what counts as held besides the booked holdings (no gateway)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.trading.broker_orders import BrokerOrder
from worker.trading.working import (
    CLOSED,
    UNKNOWN,
    WORKING,
    Pending,
    blockers,
    held_with_pending,
    pending_orders,
    unfilled_by_contract,
)

SPY = 756733


def record(ref: str, quantity: float, sources: dict, *, action="BUY", perm=0, filled=0.0):
    return {
        "orderRef": ref,
        "conId": SPY,
        "symbol": "SPY",
        "action": action,
        "quantity": quantity,
        "sources": sources,
        "permId": perm or None,
        "filled": filled,
        "intentId": ref.split(":")[0],
    }


def broker(ref: str, quantity: float, filled: float, *, is_open: bool, perm=0, action="BUY"):
    return BrokerOrder(ref, perm, 1, SPY, "SPY", action, quantity, filled, is_open)


def test_a_record_and_its_working_order_count_once_by_perm_id_or_by_order_ref():
    records = {
        "a:alloc:1": record("a:alloc:1", 60, {"x": 60}, perm=11),
        "b:alloc:1": record("b:alloc:1", 40, {"y": 40}),
    }
    at_broker = [
        broker("a:alloc:1", 60, 30, is_open=True, perm=11),
        broker("b:alloc:1", 40, 20, is_open=True, perm=12),  # the record has no permId yet
    ]
    found = pending_orders(records, at_broker, "c")
    assert [(p.order_ref, p.state, p.filled, p.counted) for p in found] == [
        ("a:alloc:1", WORKING, 30, 60),
        ("b:alloc:1", WORKING, 20, 40),
    ]
    assert held_with_pending({"x": {SPY: 10}}, found) == {"x": {SPY: 70}, "y": {SPY: 40}}


def test_closed_orders_count_what_filled_and_unknown_ones_all_of_it():
    records = {
        "a:alloc:1": record("a:alloc:1", 60, {"x": 60}, perm=11),
        "b:alloc:1": record("b:alloc:1", 40, {"y": 40}),  # never seen by the broker
    }
    found = pending_orders(records, [broker("a:alloc:1", 60, 25, is_open=False, perm=11)], "c")
    assert [(p.state, p.counted, p.unfilled) for p in found] == [
        (CLOSED, 25, 0.0),
        (UNKNOWN, 40, 40),
    ]
    assert held_with_pending({}, found) == {"x": {SPY: 25}, "y": {SPY: 40}}
    assert held_with_pending({}, found, filled_only=True) == {"x": {SPY: 25}}


def test_the_intents_own_orders_are_left_to_it_and_foreign_working_orders_have_no_strategy():
    records = {"me:alloc:1": record("me:alloc:1", 10, {"x": 10})}
    at_broker = [
        broker("me:alloc:1", 10, 0, is_open=True, perm=1),
        broker("manual", 5, 0, is_open=True, perm=2),
        broker("old:alloc:1", 7, 7, is_open=False, perm=3),  # booked long ago: no record
    ]
    found = pending_orders(records, at_broker, "me")
    assert [(p.order_ref, p.placed_by, p.state) for p in found] == [("manual", None, WORKING)]
    assert held_with_pending({}, found) == {}
    assert unfilled_by_contract(found) == {SPY: 5}


def test_sells_count_negative_and_their_split_follows_the_sources():
    found = pending_orders(
        {"a:close:1": record("a:close:1", 100, {"x": -60, "y": -40}, action="SELL", perm=5)},
        [broker("a:close:1", 100, 50, is_open=False, perm=5, action="SELL")],
        "z",
    )
    assert found[0].counted == -50
    assert held_with_pending({"x": {SPY: 60}, "y": {SPY: 40}}, found) == {
        "x": {SPY: 30},
        "y": {SPY: 20},
    }


def test_blockers_never_against_our_working_order_and_never_beside_a_foreign_one():
    ours = Pending("a:alloc:1", SPY, "SPY", 1, 10, 5, WORKING, {"x": 10}, "a")
    closed = Pending("b:alloc:1", SPY, "SPY", -1, 10, 5, CLOSED, {"x": -10}, "b")
    manual = Pending("manual", SPY, "SPY", 1, 3, 0, WORKING)
    assert blockers([ours, closed], SPY, 1) == []  # same way: order the rest
    assert blockers([ours, closed], SPY, -1) == [ours]  # the other way: wait
    assert blockers([manual], SPY, 1) == [manual]
    assert blockers([ours], SPY + 1, -1) == []


@settings(deadline=None)
@given(
    quantity=st.integers(1, 10_000),
    fraction=st.floats(0, 1),
    split=st.floats(0, 1),
    is_open=st.booleans(),
    action=st.sampled_from(["BUY", "SELL"]),
)
def test_the_strategies_shares_always_add_up_to_what_the_order_counts(
    quantity, fraction, split, is_open, action
):
    sign = 1 if action == "BUY" else -1
    first = round(quantity * split)
    sources = {"x": sign * first, "y": sign * (quantity - first)}
    filled = float(int(quantity * fraction))
    (p,) = pending_orders(
        {"a:1:1": record("a:1:1", quantity, sources, action=action, perm=9)},
        [broker("a:1:1", quantity, filled, is_open=is_open, perm=9, action=action)],
        "b",
    )
    held = held_with_pending({}, [p])
    assert sum(q for positions in held.values() for q in positions.values()) == p.counted
    assert p.counted == sign * (quantity if is_open else filled)
    assert abs(p.counted) <= quantity


def test_an_intent_whose_id_starts_like_another_still_sees_that_ones_working_order():
    # Ids may contain ':' ("rebal:2"); "rebal" must count rebal:2's order as working, not as
    # its own earlier attempt (which it would map to its plan and so order again on top).
    at_broker = [broker("rebal:2:alloc:1", 100, 0, is_open=True, perm=7)]
    records = {"rebal:2:alloc:1": record("rebal:2:alloc:1", 100, {"x": 100}, perm=7)}
    (found,) = pending_orders(records, at_broker, "rebal")
    assert (found.order_ref, found.state, found.counted) == ("rebal:2:alloc:1", WORKING, 100)
    assert pending_orders(records, at_broker, "rebal:2") == []
