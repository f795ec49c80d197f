"""What people read from the records: orders with their fills, one line per audit event, the
account over time (holdings beside IB's positions: publisher/holdings_view.py). Pure functions,
shared by the CLI's text (publisher/views.py) and the dashboard's pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.database import TERMINAL

# Fields every event has; the rest say what happened.
EVENT_COMMON = ("type", "at", "owner")
BAD_EVENTS = ("rejected", "expired", "failed", "attempt failed", "order closed unfilled")


def when(value: Any) -> datetime | None:
    """A record's time (a datetime, or an RFC 3339 string from a result message)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def fmt_time(value: Any) -> str:
    moment = when(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def duration(record: dict[str, Any]) -> float | None:
    """Seconds from receipt to the end (or None while it runs)."""
    start, end = when(record.get("receivedAt")), when(record.get("finishedAt"))
    return (end - start).total_seconds() if start and end else None


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def fmt_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def is_terminal(record: dict[str, Any]) -> bool:
    return record.get("status") in TERMINAL


# -- orders ----------------------------------------------------------------------------------


def _results(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result and, for a batch, each step's result."""
    found = [result]
    for step in result.get("steps") or []:
        if isinstance(step, dict) and isinstance(step.get("result"), dict):
            found.extend(_results(step["result"]))
    return found


def orders(record: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every order of an intent, by orderRef: planned (a dry run's trades), placed, and what
    the broker reported, with the fills from the audit trail."""
    found: dict[str, dict[str, Any]] = {}
    result = record.get("result") if isinstance(record.get("result"), dict) else {}
    for part in _results(result or {}):
        for key in ("trades", "orders"):
            for row in part.get(key) or []:
                if isinstance(row, dict) and row.get("orderRef"):
                    merged = {**found.get(row["orderRef"], {}), **row}
                    merged.setdefault("status", "planned")
                    found[row["orderRef"]] = merged
    for event in events:
        ref = event.get("orderRef")
        if not ref:
            continue
        order = found.setdefault(
            ref, {"orderRef": ref, "status": "placed", "symbol": event.get("symbol")}
        )
        if event.get("type") == "order placed":
            for key in ("symbol", "action", "quantity", "orderId"):
                order.setdefault(key, event.get(key))
            if order.get("status") == "planned":
                order["status"] = "placed"
        elif event.get("type") == "fill":
            order.setdefault("fills", []).append(
                {
                    "at": event.get("at"),
                    "shares": event.get("shares"),
                    "price": event.get("price"),
                    "execId": event.get("execId"),
                    "reconciledBy": event.get("reconciledBy"),
                }
            )
    for order in found.values():
        priced = [f for f in order.get("fills", []) if f.get("price") and f.get("execId")]
        shares = sum(float(f["shares"] or 0) for f in priced)
        if priced and not order.get("filled"):
            order["filled"] = shares
        if priced and not order.get("avgFillPrice") and shares:
            order["avgFillPrice"] = sum(float(f["shares"]) * f["price"] for f in priced) / shares
    return list(found.values())


# -- the audit trail -------------------------------------------------------------------------


def describe(event: dict[str, Any]) -> str:
    """One line saying what an audit event adds to its type."""
    kind = event.get("type")
    error = event.get("error") if isinstance(event.get("error"), dict) else None
    if kind == "order placed":
        return (
            f"{event.get('action')} {fmt_number(event.get('quantity'))} {event.get('symbol')}"
            f" (orderRef {event.get('orderRef')}, orderId {event.get('orderId')})"
        )
    if kind == "fill":
        price = f" @ {fmt_number(event.get('price'))}" if event.get("price") is not None else ""
        by = f", reconciled by {event['reconciledBy']}" if event.get("reconciledBy") else ""
        return f"{fmt_number(event.get('shares'))}{price} of {event.get('orderRef')}{by}"
    if kind == "gateway started" and event.get("startMs") is not None:
        return f"in {fmt_number(event['startMs'])} ms"
    if kind == "step started":
        return f"step {event.get('step')}: {event.get('intent')}"
    if kind == "finished":
        return f"{event.get('status')}" + (f": {error['message']}" if error else "")
    if error:
        return f"{error.get('code')}: {error.get('message')}"
    rest = {k: v for k, v in event.items() if k not in EVENT_COMMON and v is not None}
    return ", ".join(f"{k} {v}" for k, v in rest.items())


def is_bad_event(event: dict[str, Any]) -> bool:
    if event.get("type") in BAD_EVENTS:
        return True
    return event.get("type") == "finished" and event.get("status") != "succeeded"


# -- the account -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountPoint:
    at: datetime
    net_liquidation: float | None
    cash: float | None
    currency: str


def account_series(summaries: list[dict[str, Any]]) -> list[AccountPoint]:
    """Net liquidation and total cash from `summary` records, oldest first."""
    points = []
    for record in summaries:
        result = record.get("result") or {}
        values = result.get("values") or {}
        at = when(record.get("finishedAt"))
        if record.get("status") != "succeeded" or at is None or not values:
            continue
        net, cash = values.get("NetLiquidation"), values.get("TotalCashValue")
        points.append(
            AccountPoint(
                at,
                float(net) if isinstance(net, int | float) else None,
                float(cash) if isinstance(cash, int | float) else None,
                str(result.get("baseCurrency") or ""),
            )
        )
    return sorted(points, key=lambda p: p.at)
