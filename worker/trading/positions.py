"""What the account holds, read from IB for this run rather than from the session's cache.

A warm session's cached portfolio (`ib.portfolio()`) is only as good as the updates the gateway
sent; a reconciliation asks again (`reqPositions`), which answers with every position of the
day, closed ones as 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

Source = Literal["reqPositions"]
SOURCE: Source = "reqPositions"


def held(positions: Iterable[Any]) -> dict[int, float]:
    """conId -> quantity of ib_async `Position`s (accounts added up), closed ones left out."""
    totals: dict[int, float] = {}
    for p in positions:
        con_id = int(p.contract.conId)
        totals[con_id] = totals.get(con_id, 0.0) + float(p.position)
    return {c: q for c, q in totals.items() if q}


def read(ib: Any) -> tuple[dict[int, float], Source]:
    """The account's positions as IB reports them now, and where they came from."""
    return held(ib.reqPositions()), SOURCE
