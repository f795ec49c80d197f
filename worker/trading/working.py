"""Orders still on their way: what counts as held besides the booked holdings.

An order placed by this worker is in `positions/{mode}/openOrders` from before it goes out until
trade-reconciliation (or the intent, once it filled) books it; nothing of it is in the holdings
before that, filled part included. So what a strategy will hold is its holdings plus, per
unreconciled order, the whole order while it can still fill (working at the broker, or not yet
known there) and what filled once the broker closed it. An order is counted once: a record and
the broker's order are matched by permanent id, else by orderRef. A working order at the broker
with no record was not placed by this worker (a manual one): it has no strategy, and orders on its
contract are held back. Pure functions: unit-tested without a gateway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from worker.trading.broker_orders import BrokerOrder
from worker.trading.order_plan import placed_by, scale

WORKING, CLOSED, UNKNOWN = "working", "closed", "unknown"


@dataclass(frozen=True)
class Pending:
    """An order not in the holdings yet."""

    order_ref: str
    con_id: int
    symbol: str
    sign: int  # +1 BUY, -1 SELL
    quantity: float
    filled: float
    state: str  # WORKING at the broker, CLOSED there (cancelled, filled), UNKNOWN to it
    sources: dict[str, float] = field(default_factory=dict)  # strategy -> signed, whole order
    placed_by: str | None = None  # the intent's record id; None: not placed by this worker

    @property
    def can_fill(self) -> bool:
        return self.state != CLOSED

    @property
    def counted(self) -> float:
        """Signed quantity this order adds to what is held once it ends."""
        return self.sign * (self.quantity if self.can_fill else min(self.filled, self.quantity))

    @property
    def unfilled(self) -> float:
        """Signed quantity still to fill (0 once the broker closed it)."""
        return self.sign * max(self.quantity - self.filled, 0.0) if self.can_fill else 0.0

    def sources_for(self, quantity: float) -> dict[str, float]:
        """The strategies' shares of `quantity` (signed) of this order."""
        whole = self.sign * self.quantity
        return scale(self.sources, quantity / whole) if whole else {}

    def describe(self) -> dict[str, Any]:
        return {
            "orderRef": self.order_ref,
            "conId": self.con_id,
            "symbol": self.symbol,
            "action": "BUY" if self.sign > 0 else "SELL",
            "quantity": self.quantity,
            "filled": self.filled,
            "state": self.state,
            "placedBy": self.placed_by,
        }


def pending_orders(
    records: dict[str, dict[str, Any]], broker: Iterable[BrokerOrder], intent_id: str
) -> list[Pending]:
    """Every unreconciled order and every working order at the broker, once each, except the
    intent's own (placed by `intent_id`): those it maps to its plan itself."""
    broker = [o for o in broker if placed_by(o.order_ref) != intent_id]
    by_perm = {o.perm_id: o for o in broker if o.perm_id}
    by_ref: dict[str, BrokerOrder] = {}
    for o in broker:
        if o.order_ref:
            by_ref.setdefault(o.order_ref, o)
    matched: set[int] = set()
    found = []
    for ref, record in sorted(records.items()):
        order_ref = record.get("orderRef") or ref
        if placed_by(order_ref) == intent_id:
            continue
        seen = by_perm.get(record.get("permId") or 0) or by_ref.get(order_ref)
        if seen is not None:
            matched.add(id(seen))
        found.append(_from_record(order_ref, record, seen))
    for o in broker:
        if o.is_open and id(o) not in matched:
            found.append(
                Pending(o.order_ref, o.con_id, o.symbol, o.sign, o.quantity, o.filled, WORKING)
            )
    return found


def _from_record(order_ref: str, record: dict[str, Any], seen: BrokerOrder | None) -> Pending:
    quantity = float(record.get("quantity") or 0)
    if seen is None:
        state, filled = UNKNOWN, float(record.get("filled") or 0)
    else:
        state, filled = (WORKING if seen.is_open else CLOSED), seen.filled
    return Pending(
        order_ref=order_ref,
        con_id=int(record.get("conId") or (seen.con_id if seen else 0)),
        symbol=str(record.get("symbol") or (seen.symbol if seen else "")),
        sign=1 if record.get("action", "BUY") == "BUY" else -1,
        quantity=quantity,
        filled=min(filled, quantity) if quantity else filled,
        state=state,
        sources={k: float(v) for k, v in (record.get("sources") or {}).items()},
        placed_by=record.get("intentId") or "",
    )


def held_with_pending(
    held: dict[str, dict[int, float]], pending: Iterable[Pending], *, filled_only: bool = False
) -> dict[str, dict[int, float]]:
    """{strategy: {conId: quantity}}: the holdings plus each order's share per strategy (the
    whole order while it can fill; with `filled_only`, what filled so far, as when every
    working order is about to be cancelled)."""
    total = {name: dict(positions) for name, positions in held.items()}
    for p in pending:
        amount = p.sign * min(p.filled, p.quantity) if filled_only else p.counted
        for name, quantity in p.sources_for(amount).items():
            positions = total.setdefault(name, {})
            positions[p.con_id] = positions.get(p.con_id, 0.0) + quantity
    found = {name: {c: q for c, q in positions.items() if q} for name, positions in total.items()}
    return {name: positions for name, positions in found.items() if positions}


def unfilled_by_contract(pending: Iterable[Pending]) -> dict[int, float]:
    """conId -> signed quantity still to fill, of orders that can still fill."""
    found: dict[int, float] = {}
    for p in pending:
        if p.unfilled:
            found[p.con_id] = found.get(p.con_id, 0.0) + p.unfilled
    return found


def blockers(pending: Iterable[Pending], con_id: int, sign: int) -> list[Pending]:
    """The orders that keep a new order (direction `sign`) on `con_id` from going out: one
    of this worker's going the other way while it can fill (never trade against our own working
    order), or any working order this worker did not place (whose it is, nobody can say)."""
    return [
        p
        for p in pending
        if p.con_id == con_id and p.can_fill and (p.placed_by is None or p.sign != sign)
    ]
