"""Orders as the broker reports them, merged by permanent id (a fake gateway, no network)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from worker.trading.broker_orders import read

SPY = SimpleNamespace(conId=756733, symbol="SPY", localSymbol="SPY")


class FakeIB:
    """A filled order of a client that is gone: completed orders say orderId 0 (IB's way for
    another client's order), its execution names the order id."""

    def reqAllOpenOrders(self) -> list[Any]:
        return []

    def reqCompletedOrders(self, apiOnly: bool) -> list[Any]:
        order = SimpleNamespace(
            orderRef="i1:alloc:SPY",
            permId=1000001,
            orderId=0,
            action="BUY",
            totalQuantity=66,
            filledQuantity=66,
        )
        return [SimpleNamespace(order=order, contract=SPY, orderStatus=SimpleNamespace())]

    def reqExecutions(self, _filter: Any) -> list[Any]:
        execution = SimpleNamespace(
            permId=1000001, orderId=9, orderRef="i1:alloc:SPY", shares=66, side="BOT"
        )
        return [SimpleNamespace(execution=execution, contract=SPY)]


def test_an_order_known_by_its_completed_record_and_its_execution_keeps_its_order_id():
    (order,) = read(FakeIB())
    assert (order.perm_id, order.order_id, order.filled, order.is_open) == (1000001, 9, 66, False)


def test_a_working_order_keeps_the_status_ib_reports():
    class Held(FakeIB):
        def reqAllOpenOrders(self) -> list[Any]:
            order = SimpleNamespace(
                orderRef="i1:alloc:SPY", permId=7, orderId=3, action="BUY", totalQuantity=66
            )
            status = SimpleNamespace(status="PreSubmitted", filled=0)
            return [SimpleNamespace(order=order, contract=SPY, orderStatus=status)]

        def reqCompletedOrders(self, apiOnly: bool) -> list[Any]:
            return []

        def reqExecutions(self, _filter: Any) -> list[Any]:
            return []

    (order,) = read(Held())
    assert (order.is_open, order.status) == (True, "PreSubmitted")


def test_a_limit_order_carries_the_limit_ib_holds_and_a_market_order_none():
    def open_order(kind: str, limit: float) -> Any:
        order = SimpleNamespace(
            orderRef=f"i1:alloc:{kind}",
            permId={"LMT": 1, "MKT": 2}[kind],
            orderId=3,
            action="BUY",
            totalQuantity=1,
            orderType=kind,
            lmtPrice=limit,
        )
        status = SimpleNamespace(status="Submitted", filled=0)
        return SimpleNamespace(order=order, contract=SPY, orderStatus=status)

    class Working(FakeIB):
        def reqAllOpenOrders(self) -> list[Any]:
            return [open_order("LMT", 100.05), open_order("MKT", 1.7976931348623157e308)]

        def reqCompletedOrders(self, apiOnly: bool) -> list[Any]:
            return []

        def reqExecutions(self, _filter: Any) -> list[Any]:
            return []

    found = {o.order_ref: o.limit for o in read(Working())}
    assert found == {"i1:alloc:LMT": 100.05, "i1:alloc:MKT": None}
