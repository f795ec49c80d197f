"""Orders as the broker knows them: open orders (every client's), completed orders and today's
executions, merged into one `BrokerOrder` per order (by permanent id)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from worker.trading.market import ib_quantity


@dataclass(frozen=True)
class BrokerOrder:
    order_ref: str
    perm_id: int
    order_id: int
    con_id: int
    symbol: str
    action: str  # BUY or SELL
    quantity: float
    filled: float
    is_open: bool
    status: str = ""  # IB's status of a working order (PreSubmitted, Submitted, ...)
    limit: float | None = None  # the limit price IB holds (LMT, LOC)

    @property
    def sign(self) -> int:
        return 1 if self.action == "BUY" else -1


def read(ib: Any) -> list[BrokerOrder]:
    """Every order the gateway reports now: working ones, completed ones (cancelled too), and
    those with executions today. The filled quantity is the largest any of them reports."""
    import ib_async

    found: dict[Any, BrokerOrder] = {}

    def add(trade_like: BrokerOrder) -> None:
        key = trade_like.perm_id or (trade_like.order_ref, trade_like.order_id)
        before = found.get(key)
        if before is None:
            found[key] = trade_like
            return
        found[key] = replace(
            before,
            quantity=max(before.quantity, trade_like.quantity),
            filled=max(before.filled, trade_like.filled),
            is_open=before.is_open or trade_like.is_open,
            status=before.status or trade_like.status,
            limit=before.limit if before.limit is not None else trade_like.limit,
            con_id=before.con_id or trade_like.con_id,
            # Another client's completed order says orderId 0; its executions carry the id.
            order_id=before.order_id or trade_like.order_id,
        )

    for t in ib.reqAllOpenOrders():
        add(
            _from_trade(
                t, float(t.orderStatus.filled or 0), is_open=True, status=t.orderStatus.status
            )
        )
    for t in ib.reqCompletedOrders(apiOnly=False):
        filled = ib_quantity(t.order.filledQuantity)
        if not filled and t.orderStatus.status == "Filled":  # filledQuantity left unset
            filled = ib_quantity(t.order.totalQuantity)
        add(_from_trade(t, filled, is_open=False))
    executed: dict[int, BrokerOrder] = {}
    today = datetime.now(UTC).strftime("%Y%m%d-00:00:00")
    for fill in ib.reqExecutions(ib_async.ExecutionFilter(time=today)):
        e, c = fill.execution, fill.contract
        before = executed.get(e.permId)
        shares = (before.filled if before else 0.0) + float(e.shares)
        executed[e.permId] = BrokerOrder(
            order_ref=e.orderRef or "",
            perm_id=e.permId,
            order_id=e.orderId,
            con_id=c.conId,
            symbol=c.localSymbol or c.symbol,
            action="BUY" if e.side == "BOT" else "SELL",
            quantity=shares,
            filled=shares,
            is_open=False,
        )
    for order in executed.values():
        add(order)
    return list(found.values())


def _from_trade(t: Any, filled: float, *, is_open: bool, status: str = "") -> BrokerOrder:
    return BrokerOrder(
        order_ref=t.order.orderRef or "",
        perm_id=t.order.permId,
        order_id=t.order.orderId,
        con_id=t.contract.conId,
        symbol=t.contract.localSymbol or t.contract.symbol,
        action=t.order.action,
        quantity=ib_quantity(t.order.totalQuantity),
        filled=filled,
        is_open=is_open,
        status=status or "",
        limit=_limit(t.order),
    )


def _limit(order: Any) -> float | None:
    """The order's limit price, None for a type without one (IB's unset is a huge sentinel)."""
    if getattr(order, "orderType", "") not in ("LMT", "LOC"):
        return None
    price = ib_quantity(getattr(order, "lmtPrice", None))
    return price or None
