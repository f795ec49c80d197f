"""allocation's decision (`plan`), with no gateway: targets, consolidation, working orders."""

from __future__ import annotations

from dataclasses import replace

import ib_async
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.intents.allocation import Inputs, Quote, plan
from worker.trading.working import CLOSED, WORKING, Pending

SPY, TLT = 756733, 15547841
QUOTES = {
    "SPY": Quote(ib_async.Contract(conId=SPY, symbol="SPY"), 500.0, 500.0),
    "TLT": Quote(ib_async.Contract(conId=TLT, symbol="TLT"), 100.0, 100.0),
}


def inputs(held=None, pending=(), signals=None, shares=None, unsignalled=None) -> Inputs:
    signals = signals or {"alpha": {"SPY": 0.5, "TLT": 0.5}}
    return Inputs(
        net_liquidation=100_000,
        base_currency="USD",
        overall=1.0,
        shares=shares or dict.fromkeys(signals, 1.0),
        signals=signals,
        quotes=QUOTES,
        held=held or {},
        pending=tuple(pending),
        unsignalled=unsignalled or {},
    )


def ordered(order_plan) -> dict[str, tuple[str, float]]:
    return {o.symbol: (o.action, o.quantity) for o in order_plan.orders}


def test_targets_and_one_order_per_contract_across_strategies():
    got = plan(
        inputs(
            signals={"alpha": {"SPY": 0.5}, "beta": {"SPY": 0.25, "TLT": 0.5}},
            held={"alpha": {SPY: 10}},
        ),
        "i1",
    )
    assert got.report["targets"] == {"alpha": {"SPY": 100}, "beta": {"SPY": 50, "TLT": 500}}
    assert ordered(got) == {"SPY": ("BUY", 140), "TLT": ("BUY", 500)}
    spy = next(o for o in got.orders if o.symbol == "SPY")
    assert spy.sources == {"alpha": 90, "beta": 50} and spy.order_ref == f"i1:alloc:{SPY}"


def test_what_a_strategy_holds_that_its_signals_no_longer_name_is_sold():
    got = plan(
        inputs(
            held={"alpha": {TLT: 30}, "beta": {TLT: 5}},
            signals={"alpha": {"SPY": 0.5}},
            unsignalled={TLT: QUOTES["TLT"]},
        ),
        "i1",
    )
    assert ordered(got) == {"SPY": ("BUY", 100), "TLT": ("SELL", 30)}  # beta's are not allocated
    assert got.report["targets"]["alpha"] == {"SPY": 100, "TLT": 0}


def test_a_working_order_counts_as_held_and_only_the_rest_is_ordered():
    working = Pending("i0:alloc:1", SPY, "SPY", 1, 60, 30, WORKING, {"alpha": 60}, "i0")
    got = plan(inputs(pending=[working]), "i1")
    assert ordered(got) == {"SPY": ("BUY", 40), "TLT": ("BUY", 500)}
    assert got.report["working"][0]["orderRef"] == "i0:alloc:1"


def test_a_cancelled_order_counts_what_filled():
    cancelled = Pending("i0:alloc:1", SPY, "SPY", 1, 100, 30, CLOSED, {"alpha": 100}, "i0")
    assert ordered(plan(inputs(pending=[cancelled]), "i1"))["SPY"] == ("BUY", 70)


def test_no_order_against_a_working_one_the_target_dropped_below():
    working = Pending("i0:alloc:1", SPY, "SPY", 1, 150, 0, WORKING, {"alpha": 150}, "i0")
    got = plan(inputs(pending=[working]), "i1")
    assert "SPY" not in ordered(got)
    (back,) = got.report["heldBack"]
    assert (back["action"], back["quantity"], back["because"]) == ("SELL", 50, ["i0:alloc:1"])


def test_no_order_beside_a_working_order_this_worker_did_not_place():
    manual = Pending("manual", TLT, "TLT", 1, 10, 0, WORKING)
    got = plan(inputs(pending=[manual]), "i1")
    assert ordered(got) == {"SPY": ("BUY", 100)}
    assert got.report["heldBack"][0]["because"] == ["manual"]


@settings(max_examples=60, deadline=None)
@given(
    runs=st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.3, 0.5, 1.0]),  # what each new order fills at once
            st.booleans(),  # whether the rest is cancelled before the next run
            st.booleans(),  # whether trade-reconciliation runs before the next run
        ),
        min_size=1,
        max_size=6,
    ),
    weight=st.sampled_from([0.2, 0.5, 0.7]),
)
def test_runs_with_any_ids_never_order_beyond_the_target(runs, weight):
    """Allocations with fresh ids against a market that fills part of each order: once every
    working order fills, the position is the target, never more."""
    signals = {"alpha": {"SPY": weight}}
    target = round(100_000 * weight / 500)
    held: dict[int, float] = {}
    orders: list[Pending] = []  # the orders not reconciled yet, as the broker has them
    for n, (fill, cancel, reconcile) in enumerate(runs):
        got = plan(inputs(held={"alpha": held}, pending=orders, signals=signals), f"run{n}")
        for o in got.orders:
            sign = 1 if o.action == "BUY" else -1
            filled = float(int(o.quantity * fill))
            state = CLOSED if filled == o.quantity else WORKING
            orders.append(
                Pending(o.order_ref, SPY, "SPY", sign, o.quantity, filled, state, o.sources, "x")
            )
        assert held.get(SPY, 0.0) + sum(o.counted for o in orders) == target
        if cancel:
            orders = [replace(o, state=CLOSED) for o in orders]
        if reconcile:
            held[SPY] = held.get(SPY, 0.0) + sum(o.counted for o in orders if o.state == CLOSED)
            orders = [o for o in orders if o.state != CLOSED]
