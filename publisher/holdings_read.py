"""What the holdings views read (the I/O edge of publisher/holdings_view.py), for the dashboard's
Holdings page and `publisher holdings` alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from publisher import holdings_view
from publisher.records import Records

# Intents whose results carry a picture of IB's positions, and how many of each are looked at.
SOURCES = (
    ("summary", 5),
    ("allocation", 5),
    ("close-all", 3),
    ("trade-reconciliation", 3),
    ("batch", 3),
)


@dataclass(frozen=True)
class Holdings:
    view: holdings_view.View
    open_orders: dict[str, dict[str, Any]]  # orderRef -> openOrders record
    names: dict[str, str]  # conId -> symbol


def read(records: Records, mode: str) -> Holdings:
    """The strategies' holdings beside the freshest picture of IB's positions in `mode`."""
    held = records.holdings(mode)
    waiting = records.open_orders(mode)
    found = [r for intent, n in SOURCES for r in records.finished(intent, mode, n)]
    snapshot = holdings_view.freshest(holdings_view.snapshot_of(r) for r in found)
    fills = holdings_view.fills_of(records.booked(mode, snapshot.at)) if snapshot else []
    names = holdings_view.symbols_of(found, waiting)
    unreconciled = holdings_view.unreconciled_of(waiting)
    view = holdings_view.compare(held, snapshot, fills, unreconciled, names)
    return Holdings(view, waiting, names)
