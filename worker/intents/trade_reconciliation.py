"""`trade-reconciliation`: move filled orders into the strategies' holdings, then check that the
strategies together hold what IB says the account holds."""

from __future__ import annotations

from typing import Any

from worker.registry import IntentContext, IntentFailed, intent
from worker.trading.holdings import Booking, Holdings
from worker.trading.orders import scale


@intent("trade-reconciliation")
def trade_reconciliation(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    import ib_async

    ib = ctx.ib()
    store = Holdings(ctx.db, ctx.trading_mode)
    filled: dict[tuple, float] = {}
    for fill in ib.reqExecutions(ib_async.ExecutionFilter()):
        e = fill.execution
        filled[("perm", e.permId)] = filled.get(("perm", e.permId), 0.0) + e.shares
        key = ("order", e.orderId, fill.contract.conId)
        filled[key] = filled.get(key, 0.0) + e.shares
    still_open = {t.order.permId for t in ib.reqAllOpenOrders()}
    closed = {t.order.permId: t for t in ib.reqCompletedOrders(apiOnly=False)}
    bookings, waiting = [], []
    for ref, record in sorted(store.open_orders().items()):
        perm_id, quantity = record.get("permId"), float(record["quantity"])
        done = filled.get(("perm", perm_id), 0.0) or filled.get(
            ("order", record.get("orderId"), record.get("conId")), 0.0
        )
        ended = closed.get(perm_id)
        if ended is not None:  # executions from an earlier day are gone; the order says
            done = max(done, float(ended.order.filledQuantity or 0))
        if done < quantity and (perm_id in still_open or ended is None):
            note = "working" if perm_id in still_open else "not known to the gateway"
            waiting.append({"orderRef": ref, "filled": done, "quantity": quantity, "note": note})
            continue
        # Filled, or closed (cancelled, expired) after filling part or none of it.
        sources = scale(record.get("sources") or {}, done / quantity)
        bookings.append(Booking(ref, int(record["conId"]), sources))
        kind = "fill" if done else "order closed unfilled"
        event = {"orderRef": ref, "shares": done, "of": quantity, "reconciledBy": ctx.id}
        ctx.audit(kind, event)
        if ctx.audit_intent and record.get("intentId"):
            ctx.audit_intent(record["intentId"], kind, event)  # the intent that placed it
    moved = store.apply(bookings)
    current = store.all()
    consolidated: dict[int, float] = {}
    for positions in current.values():
        for con_id, quantity in positions.items():
            consolidated[con_id] = consolidated.get(con_id, 0.0) + quantity
    portfolio = {p.contract.conId: p.position for p in ib.portfolio() if p.position}
    ours = {k: v for k, v in consolidated.items() if v}
    result = {
        "reconciled": moved,
        "waiting": waiting,
        "holdings": {str(k): v for k, v in sorted(ours.items())},
        "ib": {str(k): v for k, v in sorted(portfolio.items())},
    }
    if ours != portfolio:
        differ = sorted(set(ours) | set(portfolio))
        detail = ", ".join(
            f"{c}: holdings {ours.get(c, 0):g} vs IB {portfolio.get(c, 0):g}"
            for c in differ
            if ours.get(c, 0) != portfolio.get(c, 0)
        )
        raise IntentFailed(
            "reconciliation-mismatch",
            f"strategy holdings differ from the IB portfolio ({detail})",
            result=result,
        )
    return result
