"""Per-strategy holdings and unreconciled orders in Firestore.

`positions/{mode}/holdings/{strategy}`: {"positions": {conId: quantity}}
`positions/{mode}/openOrders/{orderRef}`: an order placed and not yet reconciled, with its
per-strategy source.
`positions/{mode}/booked/{orderRef}`: an order whose fills are in the holdings, so a redelivered
intent or a second reconciliation never books them twice; with when, the conId and the signed
quantity it added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.database import Database

BOOKED_DAYS = 30


@dataclass
class Booking:
    """What one order does to the holdings: `sources` (strategy -> signed quantity) to add,
    or an `openOrders` record to keep until trade-reconciliation moves it."""

    order_ref: str
    con_id: int
    sources: dict[str, float] = field(default_factory=dict)
    open_order: dict[str, Any] | None = None


class Holdings:
    def __init__(self, db: Database, mode: str) -> None:
        self.root = db.collection("positions").document(mode)
        self.db = db

    def all(self) -> dict[str, dict[int, float]]:
        """{strategy: {conId: quantity}} for every strategy with holdings."""
        docs = self.db.stream(self.root.collection("holdings"))
        return {doc.id: _positions(doc.to_dict()) for doc in docs}

    def open_orders(self) -> dict[str, dict[str, Any]]:
        return {d.id: d.to_dict() for d in self.db.stream(self.root.collection("openOrders"))}

    def apply(self, bookings: list[Booking]) -> list[str]:
        """In one transaction: add filled orders to their strategies' holdings, keep the others
        in openOrders, and drop the openOrders record of every order booked. Orders booked
        before are skipped; returns the orderRefs booked now."""
        strategies = sorted({s for b in bookings if b.open_order is None for s in b.sources})

        def write(tx: Any) -> list[str]:
            markers = [self._doc("booked", b.order_ref) for b in bookings]
            held = [self.root.collection("holdings").document(s) for s in strategies]
            refs = markers + held
            snaps = {s.reference.path: s for s in tx.get_all(refs)} if refs else {}
            current = {
                ref.id: _positions(snaps[ref.path].to_dict() if ref.path in snaps else None)
                for ref in held
            }
            now, done = datetime.now(UTC), []
            for booking, marker in zip(bookings, markers, strict=True):
                snap = snaps.get(marker.path)
                if snap is not None and snap.exists:  # booked before: nothing waits for it
                    tx.delete(self._doc("openOrders", booking.order_ref))
                    continue
                if booking.open_order is not None:
                    tx.set(self._doc("openOrders", booking.order_ref), booking.open_order)
                    continue
                for strategy, quantity in booking.sources.items():
                    positions = current[strategy]
                    positions[booking.con_id] = positions.get(booking.con_id, 0.0) + quantity
                tx.set(marker, _marker(booking, now))
                tx.delete(self._doc("openOrders", booking.order_ref))
                done.append(booking.order_ref)
            for ref in held:
                stored = {str(k): v for k, v in current[ref.id].items() if v}
                tx.set(ref, {"positions": stored})
            return done

        return self.db.transact(write)

    def record(self, open_order: dict[str, Any]) -> None:
        """Write an openOrders record (before its order goes out)."""
        self.db.do(self._doc("openOrders", open_order["orderRef"]).set, open_order)

    def drop_open_order(self, order_ref: str) -> None:
        self.db.do(self._doc("openOrders", order_ref).delete)

    def _doc(self, collection: str, order_ref: str) -> Any:
        return self.root.collection(collection).document(order_ref.replace("/", "_"))


def open_order(outcome: dict[str, Any], intent_id: str) -> dict[str, Any]:
    """The openOrders record of an order (an OrderDesk outcome), placed by `intent_id`."""
    fields = ("orderRef", "conId", "symbol", "action", "quantity", "sources", "orderId", "permId")
    return {
        **{k: outcome.get(k) for k in fields},
        "intentId": intent_id,
        "filled": float(outcome.get("filled") or 0),
        "status": outcome.get("status"),
        "recordedAt": datetime.now(UTC),
    }


def book(holdings: Holdings, intent_id: str, outcomes: list[dict[str, Any]]) -> list[str]:
    """A fully filled order goes into its strategies' holdings at once; anything else waits in
    openOrders for trade-reconciliation. Outcomes with `sources` None are not booked."""
    bookings = []
    for outcome in outcomes:
        if outcome.get("sources") is None:  # an order whose strategies nobody recorded
            continue
        booking = Booking(outcome["orderRef"], int(outcome["conId"]), outcome["sources"])
        if float(outcome.get("filled") or 0) < float(outcome["quantity"]):
            booking.open_order = open_order(outcome, intent_id)
        bookings.append(booking)
    return holdings.apply(bookings)


def _marker(booking: Booking, now: datetime) -> dict[str, Any]:
    """The booked marker; what it added (conId, signed quantity) tells the holdings views
    which fills came after a picture of IB's positions."""
    return {
        "at": now,
        "expireAt": now + timedelta(days=BOOKED_DAYS),
        "conId": booking.con_id,
        "quantity": sum(booking.sources.values()),
    }


def _positions(data: dict[str, Any] | None) -> dict[int, float]:
    positions = (data or {}).get("positions", {})
    return {int(k): float(v) for k, v in positions.items() if float(v)}
