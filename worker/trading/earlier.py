"""Orders an earlier attempt of the same intent placed, found at the broker by orderRef, and how
they are reported and booked: as the broker has them (their real size and ids), whether or not
the recomputed plan still contains them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.trading.broker_orders import BrokerOrder
from worker.trading.order_plan import OrderRequest, placed_by, scale

# IB's statuses of an order that can still fill; an open order reported otherwise (no status
# yet) is told as Submitted.
WORKING = ("PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel")


@dataclass
class Sent:
    """One orderRef at the broker (more than one order under it are added up)."""

    order_ref: str
    con_id: int
    symbol: str
    action: str
    order_id: int
    perm_id: int
    quantity: float
    filled: float
    is_open: bool
    broker_status: str = ""  # IB's status of the working order, as IB reports it
    limit: float | None = None  # the limit price IB holds (LMT, LOC), not this attempt's quote

    @property
    def status(self) -> str:
        if self.filled >= self.quantity:
            return "Filled"
        if not self.is_open:
            return "Cancelled"
        return self.broker_status if self.broker_status in WORKING else "Submitted"

    def _broker(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "status": self.status,
            "filled": self.filled,
            "permId": self.perm_id,
            "orderId": self.order_id,
            "placedBefore": True,
            **({"limitPrice": self.limit} if self.limit is not None else {}),
        }

    def outcome(self, request: OrderRequest, record: dict[str, Any] | None) -> dict[str, Any]:
        """The plan's request told from the broker's side (its action, size, fills); its sources
        are the recorded ones (the split it was sent with), else the request's scaled to the real
        size, unless the request goes the other way (the target moved between attempts): then
        they are unknown, `sources` None, and it is not booked."""
        sources: dict[str, float] | None = None
        if record and record.get("sources") is not None:
            recorded = float(record.get("quantity") or 0)
            sources = scale(record["sources"], self.quantity / recorded if recorded else 0)
        elif request.action == self.action:
            sources = scale(request.sources, self.quantity / request.quantity)
        return request.outcome(**self._broker(), action=self.action, sources=sources)

    def alone(self, record: dict[str, Any] | None) -> dict[str, Any]:
        """An order the recomputed plan no longer contains. Without its openOrders record (it
        was booked before, or is not this worker's) its sources are unknown: `sources` None,
        reported and not booked."""
        sources = None
        if record and record.get("sources") is not None:
            recorded = float(record.get("quantity") or 0)
            sources = scale(record["sources"], self.quantity / recorded if recorded else 0)
        return {
            "orderRef": self.order_ref,
            "symbol": self.symbol,
            "action": self.action,
            "conId": self.con_id,
            "sources": sources,
            **self._broker(),
        }


def sent_before(broker: list[BrokerOrder], intent_id: str) -> dict[str, Sent]:
    """The intent's orders at the broker (placed by `intent_id`), by orderRef."""
    found: dict[str, Sent] = {}
    for o in broker:
        if placed_by(o.order_ref) != intent_id:
            continue
        before = found.get(o.order_ref)
        if before is None:
            found[o.order_ref] = Sent(
                o.order_ref,
                o.con_id,
                o.symbol,
                o.action,
                o.order_id,
                o.perm_id,
                max(o.quantity, o.filled),
                o.filled,
                o.is_open,
                o.status if o.is_open else "",
                o.limit,
            )
            continue
        before.quantity += max(o.quantity, o.filled)
        before.filled += o.filled
        before.is_open = before.is_open or o.is_open
        if o.is_open and not before.broker_status:
            before.broker_status = o.status
        if before.limit is None:
            before.limit = o.limit
    return found
