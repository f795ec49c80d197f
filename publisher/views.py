"""The CLI's text: an intent with its timeline and orders (`show`), holdings (`holdings`), and
results with their orders and fills (`publish --wait`, `results`)."""

from __future__ import annotations

import json
from typing import Any

from publisher import digest
from publisher.digest import fmt_number, fmt_time
from publisher.holdings_read import Holdings
from publisher.printable import visible

ORDER_KEYS = ("orders", "trades")  # shown as the orders table, not as values


def shown(lines: list[str]) -> str:
    """Lines for the terminal: a control character in a value is shown escaped (a newline in
    one, too: it cannot start a line of its own)."""
    return "\n".join(visible(line) for line in lines)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return visible(value)  # escaped before the columns are measured
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return fmt_number(value)
    if hasattr(value, "isoformat"):
        return fmt_time(value)
    return str(value)


def _flat(row: Any) -> bool:
    return isinstance(row, dict) and all(not isinstance(v, dict | list) for v in row.values())


def table(rows: list[dict[str, Any]], indent: str = "") -> list[str]:
    """Rows of flat dicts as aligned columns (numbers right-aligned)."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    cells = [keys] + [[_scalar(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    numeric = [all(isinstance(r.get(k), int | float) for r in rows if k in r) for k in keys]
    out = []
    for line in cells:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(line, widths, numeric, strict=True)
        ]
        out.append((indent + "  ".join(parts)).rstrip())
    return out


def values(value: Any, indent: str = "  ") -> list[str]:
    """Any JSON-like value as indented lines, nothing cut."""
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict) and item:
                lines.append(f"{indent}{key}:")
                lines.extend(values(item, indent + "  "))
            elif isinstance(item, list) and item and all(_flat(r) for r in item):
                lines.append(f"{indent}{key}:")
                lines.extend(table(item, indent + "  "))
            elif isinstance(item, list) and item and any(isinstance(r, dict | list) for r in item):
                lines.append(f"{indent}{key}:")
                for n, row in enumerate(item, 1):
                    lines.append(f"{indent}  [{n}]")
                    lines.extend(values(row, indent + "    "))
            elif isinstance(item, list):
                lines.append(f"{indent}{key}: {', '.join(_scalar(v) for v in item) or '(none)'}")
            else:
                lines.append(f"{indent}{key}: {_scalar(item) if item != {} else '(none)'}")
    elif isinstance(value, list):
        lines.extend(values(dict(enumerate(value, 1)), indent))
    else:
        lines.append(f"{indent}{_scalar(value)}")
    return lines


def order_lines(orders: list[dict[str, Any]], indent: str = "  ") -> list[str]:
    """Each order on a line (action, quantity, symbol, status, filled, price), its fills below."""
    lines = []
    for order in orders:
        filled = ""
        if order.get("filled"):
            price = order.get("avgFillPrice")
            filled = f"  filled {fmt_number(order['filled'])}" + (
                f" @ {fmt_number(price)}" if price else ""
            )
        lines.append(
            f"{indent}{order.get('action') or '?':<4} {fmt_number(order.get('quantity')):>8} "
            f"{order.get('symbol') or '?':<6} {order.get('status') or '':<10} "
            f"orderRef {order['orderRef']}{filled}"
        )
        for fill in order.get("fills", []):
            price = f" @ {fmt_number(fill['price'])}" if fill.get("price") is not None else ""
            how = f"reconciled by {fill['reconciledBy']}" if fill.get("reconciledBy") else ""
            how = how or f"execId {fill.get('execId')}"
            lines.append(
                f"{indent}     fill {fmt_number(fill.get('shares'))}{price} "
                f"at {fmt_time(fill.get('at'))} ({how})"
            )
    return lines


def _without_orders(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ORDER_KEYS}


def result_text(result: dict[str, Any]) -> str:
    """A result message: the outcome, the error, the orders as lines and every other value."""
    timings = result.get("timings") or {}
    lines = [
        f"{result.get('intent')} {result.get('id')}: {result.get('status')} "
        f"(attempts {result.get('attempts')}, {timings.get('totalMs')} ms)"
    ]
    if result.get("error"):
        lines.append(f"  error: {result['error']['message']}")
    body = result.get("result") or {}
    found = digest.orders({"result": body}, [])
    if found:
        lines.append("  orders:")
        lines.extend(order_lines(found, "    "))
    lines.extend(values(_without_orders(body)))
    return shown(lines)


def show_text(record: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """`show ID`: status, params, the readable result, orders and fills, and the timeline."""
    error = record.get("error") or {}
    lines = [
        f"{record.get('intent')} {record.get('id')} ({record.get('tradingMode')}): "
        f"{record.get('status')}",
        f"  requested by  {record.get('requestedBy') or '-'}",
        f"  received      {fmt_time(record.get('receivedAt'))}",
        f"  finished      {fmt_time(record.get('finishedAt'))}",
        f"  duration      {digest.fmt_duration(digest.duration(record))}",
        f"  attempts      {record.get('attempts', 0)}",
    ]
    if error:
        lines.append(f"  error         {error.get('code')}: {error.get('message')}")
    lines.append("params:")
    lines.extend(values(record.get("params") or {}) or ["  (none)"])
    found = digest.orders(record, events)
    if found:
        lines.append("orders:")
        lines.extend(order_lines(found))
    result = record.get("result")
    if isinstance(result, dict) and _without_orders(result):
        lines.append("result:")
        lines.extend(values(_without_orders(result)))
    lines.append("timeline:")
    for event in events:
        mark = "!" if digest.is_bad_event(event) else " "
        when_, kind = fmt_time(event.get("at")), event.get("type")
        lines.append(f" {mark}{when_}  {kind:<22} {digest.describe(event)}".rstrip())
    if not events:
        lines.append("  (no events)")
    return shown(lines)


def holdings_text(mode: str, found: Holdings) -> str:
    """`holdings`: per instrument, each strategy's quantity, the total, IB's position in the
    freshest picture, the fills since counted in, and the verdict (publisher/holdings_view.py);
    then the orders not yet reconciled."""
    view = found.view
    strategies = sorted({s for row in view.rows for s in row.strategies})
    lines = [f"holdings ({mode})", f"  {view.freshness()}"]
    if view.headline:
        lines.append(f"  {view.headline} {view.advice}")
    if view.rows:
        table_rows = []
        for row in view.rows:
            line: dict[str, Any] = {"instrument": row.symbol, "conId": row.con_id}
            line.update({s: row.strategies.get(s, 0.0) for s in strategies})
            line["total"] = row.total
            line["IB"] = row.ib if row.ib is not None else "?"
            line["since"] = row.since if row.since else ""
            line["check"] = row.check.upper() if row.verdict == "differs" else row.check
            table_rows.append(line)
        lines.extend(table(table_rows, "  "))
    else:
        lines.append("  no strategy holds anything")
    lines.append(f"unreconciled orders ({len(found.open_orders)})")
    for ref, order in sorted(found.open_orders.items()):
        con_id = str(order.get("conId"))
        lines.append(
            f"  {order.get('action') or '?':<4} {fmt_number(order.get('quantity')):>8} "
            f"{found.names.get(con_id, 'conId ' + con_id):<10} "
            f"filled {fmt_number(order.get('filled'))}"
            f"  orderRef {order.get('orderRef') or ref}  intent {order.get('intentId')}"
        )
    return shown(lines)
