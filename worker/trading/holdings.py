"""Per-strategy holdings and unreconciled orders in Firestore.

`positions/{mode}/holdings/{strategy}`: {"positions": {conId: quantity}}
`positions/{mode}/openOrders/{orderRef}`: an order placed and not yet reconciled, with its
per-strategy source.
"""

from __future__ import annotations

from typing import Any


class Holdings:
    def __init__(self, db: Any, mode: str) -> None:
        self.root = db.collection("positions").document(mode)
        self.db = db

    def all(self) -> dict[str, dict[int, float]]:
        """{strategy: {conId: quantity}} for every strategy with holdings."""
        found = {}
        for doc in self.root.collection("holdings").stream(timeout=10):
            positions = (doc.to_dict() or {}).get("positions", {})
            found[doc.id] = {int(k): float(v) for k, v in positions.items() if float(v)}
        return found

    def set(self, strategy: str, positions: dict[int, float]) -> None:
        self.root.collection("holdings").document(strategy).set(
            {"positions": {str(k): v for k, v in positions.items() if v}}, timeout=10
        )

    def move(self, holdings: dict[str, dict[int, float]], reconciled: list[str]) -> None:
        """In one transaction: the new holdings, and the reconciled openOrders gone."""
        from google.cloud import firestore

        @firestore.transactional
        def write(tx: Any) -> None:
            for strategy, positions in holdings.items():
                tx.set(
                    self.root.collection("holdings").document(strategy),
                    {"positions": {str(k): v for k, v in positions.items() if v}},
                )
            for ref in reconciled:
                tx.delete(self.root.collection("openOrders").document(_key(ref)))

        write(self.db.transaction())

    def open_orders(self) -> dict[str, dict[str, Any]]:
        return {d.id: d.to_dict() for d in self.root.collection("openOrders").stream(timeout=10)}

    def record_open_order(self, order_ref: str, record: dict[str, Any]) -> None:
        self.root.collection("openOrders").document(_key(order_ref)).set(record, timeout=10)

    def drop_open_order(self, order_ref: str) -> None:
        self.root.collection("openOrders").document(_key(order_ref)).delete(timeout=10)


def _key(order_ref: str) -> str:
    return order_ref.replace("/", "_")
