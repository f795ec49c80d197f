"""`trade-reconciliation`: move filled orders into the strategies' holdings, then check that the
strategies together hold what IB says the account holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import observed
from worker.trading.holdings import Booking, Holdings
from worker.trading.market import ib_quantity
from worker.trading.order_plan import scale

GRACE_SECONDS = 3600  # default of config.unacknowledgedOrderGraceSeconds
NEVER_ARRIVED = "order never arrived"


@intent("trade-reconciliation")
def trade_reconciliation(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    import ib_async

    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    grace = timedelta(seconds=config.get("unacknowledgedOrderGraceSeconds", GRACE_SECONDS))
    store = Holdings(ctx.db, ctx.trading_mode)
    # Everything the gateway knows, by permanent id and by orderRef (orders without one, such as
    # manual ones, only by permanent id).
    filled: dict[Any, float] = {}
    for fill in ib.reqExecutions(ib_async.ExecutionFilter()):
        for key in _keys(fill.execution):
            filled[key] = filled.get(key, 0.0) + fill.execution.shares
    still_open = {key for t in ib.reqAllOpenOrders() for key in _keys(t.order)}
    closed = {key: t for t in ib.reqCompletedOrders(apiOnly=False) for key in _keys(t.order)}
    bookings, events, waiting, never = [], {}, [], []
    opened = store.open_orders()
    for ref, record in sorted(opened.items()):
        # Matched by permanent id, else by orderRef (an order recorded before it went out).
        perm_id, order_ref = record.get("permId"), record.get("orderRef", ref)
        quantity_ = float(record["quantity"])
        keys = [("perm", perm_id), ("ref", order_ref)]
        done = max(filled.get(key, 0.0) for key in keys)
        ended = next((closed[key] for key in keys if key in closed), None)
        if ended is not None:  # executions from an earlier day are gone; the order says
            done = max(done, ib_quantity(ended.order.filledQuantity))
        done = min(done, quantity_)
        working = any(key in still_open for key in keys)
        if not done and not working and ended is None and _never_arrived(record, grace):
            never.append((order_ref, record))
            continue
        if done < quantity_ and (working or ended is None):
            note = "working" if working else "not known to the gateway"
            waiting.append({"orderRef": ref, "filled": done, "quantity": quantity_, "note": note})
            continue
        # Filled, or closed (cancelled, expired) after filling part or none of it.
        sources = scale(record.get("sources") or {}, done / quantity_ if quantity_ else 0.0)
        bookings.append(Booking(order_ref, int(record["conId"]), sources))
        events[order_ref] = (record.get("intentId"), done, quantity_)
    moved = store.apply(bookings)
    for order_ref, record in never:
        store.drop_open_order(order_ref)
        event = {
            "orderRef": order_ref,
            "symbol": record.get("symbol"),
            "action": record.get("action"),
            "quantity": record.get("quantity"),
            "recordedAt": str(record.get("recordedAt")),
            "reconciledBy": ctx.id,
        }
        ctx.audit(NEVER_ARRIVED, event)
        if ctx.audit_intent and _elsewhere(ctx, record.get("intentId")):
            ctx.audit_intent(record["intentId"], NEVER_ARRIVED, event)
    for order_ref in moved:
        owner, done, quantity_ = events[order_ref]
        kind = "fill" if done else "order closed unfilled"
        event = {"orderRef": order_ref, "shares": done, "of": quantity_, "reconciledBy": ctx.id}
        ctx.audit(kind, event)
        if ctx.audit_intent and owner and _elsewhere(ctx, owner):
            ctx.audit_intent(owner, kind, event)  # the intent that placed it
    current = store.all()
    consolidated: dict[int, float] = {}
    for positions in current.values():
        for con_id, quantity in positions.items():
            consolidated[con_id] = consolidated.get(con_id, 0.0) + quantity
    # Asked for now: a warm session's cached portfolio can be older than this run.
    seen = observed.read(ib)
    portfolio, source = seen.held, seen.source
    ours = {k: v for k, v in consolidated.items() if v}
    both = sorted(set(ours) | set(portfolio))
    names = {int(r["conId"]): str(r["symbol"]) for r in opened.values() if r.get("symbol")}
    names |= {row["conId"]: row["symbol"] for row in seen.rows}
    label = observed.labels(both, observed.named(ib, both, names))
    result = {
        "reconciled": moved,
        "waiting": waiting,
        "neverArrived": [ref for ref, _ in never],
        "holdings": {label[k]: v for k, v in sorted(ours.items())},
        "ib": {label[k]: v for k, v in sorted(portfolio.items())},
        "conIds": {label[c]: c for c in both},
        "ibSource": source,
        **seen.report(),
    }
    if ours != portfolio:
        detail = ", ".join(
            f"{label[c]} (conId {c}): holdings {ours.get(c, 0):g} vs IB {portfolio.get(c, 0):g}"
            for c in both
            if ours.get(c, 0) != portfolio.get(c, 0)
        )
        raise IntentFailed(
            "reconciliation-mismatch",
            f"strategy holdings differ from the IB positions ({source}: {detail})",
            result=result,
        )
    return result


def _elsewhere(ctx: IntentContext, owner: str | None) -> bool:
    """Whether the intent that placed an order keeps its trail in another record than this run
    (a batch that reconciles its own earlier steps' orders writes each event once)."""
    return bool(owner) and owner != (ctx.record_id or ctx.id)


def _never_arrived(record: dict[str, Any], grace: timedelta) -> bool:
    """An order recorded before it went out that the gateway never acknowledged (no permanent
    id), recorded longer than `grace` ago: whatever carried it is long gone."""
    recorded = record.get("recordedAt")
    if record.get("permId") or not isinstance(recorded, datetime):
        return False
    return datetime.now(UTC) - recorded >= grace


def _keys(order: Any) -> list[tuple[str, Any]]:
    """How an order or execution is matched: its permanent id, and its orderRef if it has one."""
    by_id: list[tuple[str, Any]] = [("perm", order.permId)]
    return [*by_id, ("ref", order.orderRef)] if order.orderRef else by_id
