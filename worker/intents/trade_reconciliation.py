"""`trade-reconciliation`: move filled orders into the strategies' holdings, then check that the
strategies together hold what IB says the account holds."""

from __future__ import annotations

from typing import Any

from worker.registry import IntentContext, IntentFailed, intent
from worker.trading.holdings import Holdings


@intent("trade-reconciliation")
def trade_reconciliation(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    import ib_async

    ib = ctx.ib()
    store = Holdings(ctx.db, ctx.trading_mode)
    fills = ib.reqExecutions(ib_async.ExecutionFilter())
    filled: dict[tuple, float] = {}
    for fill in fills:
        e = fill.execution
        filled[("perm", e.permId)] = filled.get(("perm", e.permId), 0.0) + e.shares
        key = ("order", e.orderId, fill.contract.conId)
        filled[key] = filled.get(key, 0.0) + e.shares
    moved, waiting = [], []
    current = store.all()
    for ref, record in store.open_orders().items():
        done = filled.get(("perm", record.get("permId")), 0.0) or filled.get(
            ("order", record.get("orderId"), record.get("conId")), 0.0
        )
        if done >= float(record["quantity"]):
            for strategy, quantity in (record.get("sources") or {}).items():
                positions = current.setdefault(strategy, {})
                positions[int(record["conId"])] = positions.get(int(record["conId"]), 0.0) + float(
                    quantity
                )
            moved.append(ref)
        else:
            waiting.append({"orderRef": ref, "filled": done, "quantity": record["quantity"]})
    if moved:
        store.move(current, moved)
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
