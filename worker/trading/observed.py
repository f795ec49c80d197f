"""The account's positions as an intent saw them after its orders, for its result.

allocation, close-all and trade-reconciliation ask IB (`reqPositions`, not the session's cached
portfolio) once their orders are booked and put what they saw in the result, with the time and
each instrument's symbol: the holdings views (publisher/holdings_view.py) compare the strategies'
holdings with the freshest such picture instead of an older summary's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from worker.trading.positions import SOURCE, Source, held


class PositionRow(TypedDict):
    symbol: str
    conId: int
    position: float


@dataclass(frozen=True)
class Seen:
    """conId -> quantity (closed ones left out), the rows for the result, when and how."""

    held: dict[int, float]
    rows: list[PositionRow]
    at: datetime
    source: Source

    def report(self) -> dict[str, Any]:
        """The result's fields: `ibPositions` (symbol, conId, position), `ibPositionsAt`."""
        return {
            "ibPositions": self.rows,
            "ibPositionsAt": self.at.isoformat(),
            "ibPositionsSource": self.source,
        }


def symbol(contract: Any) -> str:
    return str(getattr(contract, "localSymbol", "") or getattr(contract, "symbol", "") or "")


def rows(positions: Iterable[Any]) -> tuple[dict[int, float], list[PositionRow]]:
    """ib_async `Position`s as conId -> quantity and as rows with symbols, sorted by symbol."""
    found = list(positions)
    totals = held(found)
    names = {int(p.contract.conId): symbol(p.contract) for p in found}
    listed = [
        PositionRow(symbol=names.get(c) or f"conId {c}", conId=c, position=q)
        for c, q in totals.items()
    ]
    return totals, sorted(listed, key=lambda r: (r["symbol"], r["conId"]))


def read(ib: Any) -> Seen:
    """What IB says the account holds now."""
    totals, listed = rows(ib.reqPositions())
    return Seen(totals, listed, datetime.now(UTC), SOURCE)
