"""close-all's decision (`plan`), with no gateway: what every strategy holds, filled parts of
unreconciled orders included, is flattened exactly."""

from __future__ import annotations

import ib_async

from worker.intents.close_all import Inputs, plan
from worker.trading.working import CLOSED, UNKNOWN, Pending

SPY, TLT = 756733, 15547841
CONTRACTS = {c: ib_async.Contract(conId=c, symbol=s) for c, s in ((SPY, "SPY"), (TLT, "TLT"))}


def inputs(held, pending=(), portfolio=None) -> Inputs:
    return Inputs(
        held=held,
        pending=tuple(pending),
        portfolio=portfolio or {},
        contracts=CONTRACTS,
        prices={SPY: 500.0, TLT: 100.0},
        to_cancel=(),
    )


def test_flattens_holdings_and_what_cancelled_orders_filled():
    cancelled = Pending("a:alloc:1", SPY, "SPY", 1, 66, 33, CLOSED, {"alpha": 44, "beta": 22}, "a")
    never = Pending("b:alloc:1", TLT, "TLT", 1, 10, 0, UNKNOWN, {"alpha": 10}, "b")
    got = plan(
        "close1",
        inputs({"alpha": {SPY: 10}}, [cancelled, never], portfolio={SPY: 43}),
    )
    (order,) = got.orders
    assert (order.symbol, order.action, order.quantity) == ("SPY", "SELL", 43)
    assert order.sources == {"alpha": -32, "beta": -11}  # 10 + 44 x 0.5; 22 x 0.5
    assert got.report["mismatch"] == []


def test_strategies_that_cancel_out_need_no_order_and_a_short_is_bought_back():
    got = plan("c", inputs({"alpha": {SPY: 10, TLT: -5}, "beta": {SPY: -10}}, portfolio={TLT: -5}))
    assert [(o.symbol, o.action, o.quantity) for o in got.orders] == [("TLT", "BUY", 5)]
    assert got.orders[0].order_ref == f"c:close:{TLT}"


def test_where_holdings_and_ib_differ_it_is_reported():
    got = plan("c", inputs({"alpha": {SPY: 10}}, portfolio={SPY: 100, TLT: 3}))
    assert got.report["mismatch"] == [
        {"symbol": "SPY", "conId": SPY, "holdings": 10, "ib": 100},
        {"symbol": "TLT", "conId": TLT, "holdings": 0.0, "ib": 3},
    ]
