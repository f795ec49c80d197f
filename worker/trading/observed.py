"""The account's positions as an intent saw them after its orders, for its result.

allocation, close-all and trade-reconciliation ask IB (`reqPositions`, not the session's cached
portfolio) once their orders are booked and put what they saw in the result, with the time and
each instrument's symbol: the holdings views (publisher/holdings_view.py) compare the strategies'
holdings with the freshest such picture instead of an older summary's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
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


def labels(con_ids: Iterable[int], names: Mapping[int, str]) -> dict[int, str]:
    """Each conId's key in a result: its symbol; `SYMBOL (conId)` where two share a symbol;
    `conId N` where none is known (the conIds themselves go under the result's `conIds`)."""
    ids = sorted(set(con_ids))
    known = {c: names[c] for c in ids if names.get(c) and not names[c].startswith("conId ")}
    shared = Counter(known.values())
    return {
        c: (known[c] if shared[known[c]] == 1 else f"{known[c]} ({c})")
        if c in known
        else f"conId {c}"
        for c in ids
    }


def named(ib: Any, con_ids: Iterable[int], names: Mapping[int, str]) -> dict[int, str]:
    """`names`, with the symbol of each conId it lacks asked from the gateway (one request for
    all of them, none when every one is named)."""
    import ib_async

    found = dict(names)
    missing = sorted({c for c in con_ids if not found.get(c)})
    if missing:
        for contract in ib.qualifyContracts(*(ib_async.Contract(conId=c) for c in missing)):
            if symbol(contract):
                found[int(contract.conId)] = symbol(contract)
    return found


def read(ib: Any) -> Seen:
    """What IB says the account holds now."""
    totals, listed = rows(ib.reqPositions())
    return Seen(totals, listed, datetime.now(UTC), SOURCE)
