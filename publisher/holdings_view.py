"""Holdings beside IB's positions: which picture of IB to compare with, and what a difference
means. Pure; the dashboard's Holdings page and `publisher holdings` both render `compare`.

The picture is the freshest the records hold: the latest summary's portfolio, or the positions an
allocation, close-all or trade-reconciliation saw after its orders (`ibPositions`). Orders booked
into the holdings after it (`positions/{mode}/booked`) are counted in: a difference they explain
is no problem, only not yet confirmed (a fresh summary confirms it). One that orders not yet
reconciled can explain waits for trade-reconciliation. Only a difference nothing this system did
explains is shown as one, with advice that would change it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from publisher.digest import fmt_number, fmt_time, when

Verdict = Literal["matches", "filled-since", "unreconciled", "differs", "unknown"]
Level = Literal["ok", "unconfirmed", "waiting", "problem", "unknown"]
EPSILON = 1e-6  # share quantities; fractional shares have at most 4 decimals


@dataclass(frozen=True)
class Snapshot:
    """IB's positions as one intent saw them."""

    at: datetime
    intent: str
    intent_id: str
    positions: Mapping[str, float]  # conId -> quantity, none zero


@dataclass(frozen=True)
class Fill:
    """An order booked into the holdings: what it added to its instrument."""

    order_ref: str
    con_id: str
    quantity: float  # signed
    at: datetime


@dataclass(frozen=True)
class Unreconciled:
    """An order not yet in the holdings: IB's position may hold any part of it."""

    order_ref: str
    con_id: str
    quantity: float  # signed, the whole order


@dataclass(frozen=True)
class Row:
    con_id: str
    symbol: str
    strategies: Mapping[str, float]
    ib: float | None  # in the picture
    since: float  # booked after the picture and counted in
    included: int  # how many orders that is
    verdict: Verdict

    @property
    def total(self) -> float:
        return sum(self.strategies.values())

    @property
    def expected(self) -> float | None:
        """IB's position now, by the picture and the fills since."""
        return None if self.ib is None else self.ib + self.since

    @property
    def difference(self) -> float:
        return 0.0 if self.expected is None else self.total - self.expected

    @property
    def check(self) -> str:
        """The row's verdict in words (the page's and the CLI's Check column)."""
        if self.verdict == "matches":
            return "matches"
        if self.verdict == "filled-since":
            return f"matches with {_orders(self.included)} filled since"
        if self.verdict == "unreconciled":
            return "orders not yet reconciled"
        if self.verdict == "differs":
            return f"differs by {fmt_number(self.difference)}"
        return "unknown"


@dataclass(frozen=True)
class View:
    snapshot: Snapshot | None
    rows: tuple[Row, ...]
    included: int  # orders booked after the picture that explain a difference

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict)

    @property
    def level(self) -> Level:
        if self.snapshot is None:
            return "unknown"
        if self.count("differs"):
            return "problem"
        if self.count("unreconciled"):
            return "waiting"
        return "unconfirmed" if self.included else "ok"

    def freshness(self, show_time: Callable[[Any], str] = fmt_time) -> str:
        """How old the picture is and what it counts in since."""
        if self.snapshot is None:
            return (
                "IB positions unknown: no summary yet, and no allocation, close-all or "
                "trade-reconciliation reported the positions it saw"
            )
        source = self.snapshot
        text = f"IB positions as of {show_time(source.at)} ({source.intent} {source.intent_id})"
        return text + self.since_text

    @property
    def since_text(self) -> str:
        return f"; {_orders(self.included)} filled since, included" if self.included else ""

    @property
    def headline(self) -> str | None:
        """The banner's title, when there is something to say."""
        differing, waiting = self.count("differs"), self.count("unreconciled")
        if self.level == "problem":
            return f"{_instruments(differing)} {_differ(differing)} from IB's positions."
        if self.level == "waiting":
            return f"{_instruments(waiting)} {_wait(waiting)} for orders not yet reconciled."
        if self.level == "unconfirmed":
            return f"{_orders(self.included)} filled since that picture of IB, counted in."
        if self.level == "unknown":
            return "IB's positions are unknown."
        return None

    @property
    def advice(self) -> str | None:
        """What would change or confirm what the view shows."""
        if self.level == "problem":
            return (
                "No order of this system explains the difference: the position changed "
                "outside it (a trade in TWS or by another client, an assignment, a transfer). "
                "trade-reconciliation would not change it: it books only this system's orders. "
                "Trade the difference in TWS to bring IB back to the strategies' holdings."
            )
        if self.level == "waiting":
            return (
                "Run trade-reconciliation once those orders have filled: it books them into "
                "the holdings."
            )
        if self.level == "unconfirmed":
            return "A fresh summary confirms them."
        if self.level == "unknown":
            return "A summary reports them."
        return None


# -- the decision ----------------------------------------------------------------------------


def freshest(snapshots: Iterable[Snapshot | None]) -> Snapshot | None:
    found = [s for s in snapshots if s is not None]
    return max(found, key=lambda s: s.at) if found else None


def compare(
    holdings: Mapping[str, Mapping[str, float]],
    snapshot: Snapshot | None,
    fills: Iterable[Fill],
    unreconciled: Iterable[Unreconciled],
    names: Mapping[str, str],
) -> View:
    """Each instrument the strategies or the picture hold, with its verdict."""
    by_con: dict[str, dict[str, float]] = {}
    for strategy, positions in sorted(holdings.items()):
        for con_id, quantity in positions.items():
            if abs(quantity) > EPSILON:
                by_con.setdefault(str(con_id), {})[strategy] = quantity
    if snapshot is None:
        rows = [_row(c, names, s, None, 0.0, 0, "unknown") for c, s in by_con.items()]
        return View(None, tuple(sorted(rows, key=_order)), 0)
    since: dict[str, list[float]] = {}
    for fill in sorted(fills, key=lambda f: f.at):
        if fill.at > snapshot.at and abs(fill.quantity) > EPSILON:
            since.setdefault(fill.con_id, []).append(fill.quantity)
    waiting: dict[str, list[float]] = {}
    for order in unreconciled:
        waiting.setdefault(order.con_id, []).append(order.quantity)
    rows = []
    for con_id in sorted(set(by_con) | {c for c, q in snapshot.positions.items() if q}):
        strategies = by_con.get(con_id, {})
        ib = float(snapshot.positions.get(con_id, 0.0))
        verdict, counted, included = judge(
            sum(strategies.values()), ib, since.get(con_id, []), waiting.get(con_id, [])
        )
        rows.append(_row(con_id, names, strategies, ib, counted, included, verdict))
    return View(snapshot, tuple(sorted(rows, key=_order)), sum(r.included for r in rows))


def judge(
    total: float, ib: float, since: list[float], waiting: list[float]
) -> tuple[Verdict, float, int]:
    """One instrument: the verdict, the quantity of fills since counted in, and how many.

    `since` are the orders booked after the picture, oldest first: the picture may already hold
    the oldest of them (booked after it, filled before), never a newer one without the older,
    so what it lacks is a tail of them. `waiting` are orders not yet reconciled, of which IB
    may hold any part."""
    gap = total - ib
    if abs(gap) <= EPSILON:
        return "matches", 0.0, 0
    tails = [(sum(since[k:]), len(since) - k) for k in range(len(since) + 1)]
    for amount, count in tails[:-1]:  # the most orders counted in first
        if abs(gap - amount) <= EPSILON:
            return "filled-since", amount, count
    if waiting:
        low = sum(min(0.0, q) for q in waiting)
        high = sum(max(0.0, q) for q in waiting)
        for amount, count in tails:
            if low - EPSILON <= amount - gap <= high + EPSILON:
                return "unreconciled", amount, count
    amount, count = tails[0]
    return "differs", amount, count


def _row(
    con_id: str,
    names: Mapping[str, str],
    strategies: Mapping[str, float],
    ib: float | None,
    since: float,
    included: int,
    verdict: Verdict,
) -> Row:
    symbol = names.get(con_id) or f"conId {con_id}"
    return Row(con_id, symbol, dict(strategies), ib, since, included, verdict)


def _order(row: Row) -> tuple[str, str]:
    return (row.symbol, row.con_id)


def _orders(n: int) -> str:
    return f"{n} order{'s' if n != 1 else ''}"


def _instruments(n: int) -> str:
    return f"{n} instrument{'s' if n != 1 else ''}"


def _differ(n: int) -> str:
    return "differs" if n == 1 else "differ"


def _wait(n: int) -> str:
    return "waits" if n == 1 else "wait"


# -- reading the records ---------------------------------------------------------------------


def _parts(result: Any) -> list[dict[str, Any]]:
    """A result and, for a batch, each step's result."""
    if not isinstance(result, dict):
        return []
    found = [result]
    for step in result.get("steps") or []:
        if isinstance(step, dict):
            found.extend(_parts(step.get("result")))
    return found


def _quantity(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def snapshot_of(record: Mapping[str, Any] | None) -> Snapshot | None:
    """The newest picture of IB's positions a record holds: an `ibPositions` list (allocation,
    close-all, trade-reconciliation, a batch's steps), a summary's `portfolio`, or an older
    trade-reconciliation's `ib`."""
    if not record:
        return None
    finished = when(record.get("finishedAt"))
    intent, intent_id = str(record.get("intent") or "?"), str(record.get("id") or "?")
    found: list[Snapshot] = []
    for part in _parts(record.get("result")):
        rows = part.get("ibPositions")
        if rows is None and intent == "summary" and record.get("status") == "succeeded":
            rows = part.get("portfolio")
        at = when(part.get("ibPositionsAt")) or finished
        if isinstance(rows, list) and at is not None:
            positions: dict[str, float] = {}
            for row in rows:
                if isinstance(row, dict) and row.get("conId") is not None:
                    quantity = _quantity(row.get("position"))
                    if quantity:
                        key = str(row["conId"])
                        positions[key] = positions.get(key, 0.0) + quantity
            found.append(Snapshot(at, intent, intent_id, positions))
        elif isinstance(part.get("ib"), dict) and finished is not None:
            ib = {str(k): q for k, v in part["ib"].items() if (q := _quantity(v))}
            found.append(Snapshot(finished, intent, intent_id, ib))
    return freshest(found)


def fills_of(markers: Iterable[Mapping[str, Any]]) -> list[Fill]:
    """Booked markers (`positions/{mode}/booked`, orderRef under `orderRef`) as fills; markers
    written before they named their instrument are left out."""
    found = []
    for marker in markers:
        at, quantity = when(marker.get("at")), _quantity(marker.get("quantity"))
        if at is None or quantity is None or marker.get("conId") is None:
            continue
        found.append(Fill(str(marker.get("orderRef") or ""), str(marker["conId"]), quantity, at))
    return found


def unreconciled_of(open_orders: Mapping[str, Mapping[str, Any]]) -> list[Unreconciled]:
    found = []
    for ref, order in open_orders.items():
        quantity = _quantity(order.get("quantity"))
        if quantity is None or order.get("conId") is None:
            continue
        sign = -1.0 if str(order.get("action")).upper() == "SELL" else 1.0
        found.append(Unreconciled(ref, str(order["conId"]), sign * abs(quantity)))
    return found


def symbols_of(
    records: Iterable[Mapping[str, Any] | None],
    open_orders: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """conId -> symbol from what the records saw: portfolios, positions, orders, open orders."""
    found: dict[str, str] = {}
    for order in (open_orders or {}).values():
        if order.get("conId") is not None and order.get("symbol"):
            found[str(order["conId"])] = str(order["symbol"])
    for record in records:
        for part in _parts((record or {}).get("result")):
            for symbol, con_id in (part.get("conIds") or {}).items():
                if _named(symbol):
                    found[str(con_id)] = str(symbol)
            for key in ("portfolio", "ibPositions", "orders", "mismatch"):
                for row in part.get(key) or []:
                    if isinstance(row, dict) and _named(row.get("symbol")) and row.get("conId"):
                        found[str(row["conId"])] = str(row["symbol"])
    return found


def _named(symbol: Any) -> bool:
    """A symbol, not the stand-in a result writes for an instrument it could not name."""
    return bool(symbol) and not str(symbol).startswith("conId ")
