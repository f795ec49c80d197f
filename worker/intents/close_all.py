"""`close-all`: cancel open orders, then flatten every strategy's holdings."""

from __future__ import annotations

from typing import Any

from worker.registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading.config import RiskLimits
from worker.trading.holdings import Holdings
from worker.trading.orders import OrderDesk, OrderRequest, check_limits, order_ref


@intent("close-all")
def close_all(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    import ib_async

    ib = ctx.ib()
    dry_run = bool(params.get("dryRun"))
    config = trading_config.load(ctx.db, ctx.trading_mode)
    holdings = Holdings(ctx.db, ctx.trading_mode)
    by_strategy = holdings.all()

    totals: dict[int, float] = {}
    sources: dict[int, dict[str, float]] = {}
    for strategy, positions in by_strategy.items():
        for con_id, quantity in positions.items():
            totals[con_id] = totals.get(con_id, 0.0) + quantity
            sources.setdefault(con_id, {})[strategy] = quantity
    portfolio = {p.contract.conId: p for p in ib.portfolio()}
    mismatch = [
        {
            "conId": con_id,
            "holdings": totals.get(con_id, 0.0),
            "ib": portfolio[con_id].position if con_id in portfolio else 0.0,
        }
        for con_id in sorted(set(totals) | set(portfolio))
        if totals.get(con_id, 0.0) != (portfolio[con_id].position if con_id in portfolio else 0.0)
    ]

    requests = []
    for con_id, total in sorted(totals.items()):
        if not total:
            continue
        contract = ib.qualifyContracts(ib_async.Contract(conId=con_id))[0]
        held = portfolio.get(con_id)
        requests.append(
            OrderRequest(
                contract=contract,
                action="SELL" if total > 0 else "BUY",
                quantity=abs(total),
                order_ref=order_ref(ctx.id, "close", str(con_id)),
                price=held.marketPrice if held else 0.0,
                multiplier=float(contract.multiplier or 1),
                sources=sources[con_id],
            )
        )
    mine = f"{ctx.id}:"
    to_cancel = [t for t in ib.reqAllOpenOrders() if not t.order.orderRef.startswith(mine)]
    plan = {
        "dryRun": dry_run,
        "cancel": [{"orderId": t.order.orderId, "orderRef": t.order.orderRef} for t in to_cancel],
        "orders": [r.planned() for r in requests],
        "mismatch": mismatch,
    }
    if dry_run:
        return plan

    check_limits(requests, RiskLimits.from_config(config))
    desk = OrderDesk(ctx, ib)
    desk.guard()
    for trade in to_cancel:
        ib.cancelOrder(trade.order)
        holdings.drop_open_order(trade.order.orderRef or str(trade.order.orderId))
    if to_cancel:
        ib.sleep(0.2)
    outcomes = desk.place(requests)
    for request, outcome in zip(requests, outcomes, strict=True):
        con_id = request.contract.conId
        if outcome["status"] == "Filled":
            for strategy in request.sources:
                by_strategy[strategy][con_id] = 0.0
        else:
            holdings.record_open_order(
                request.order_ref,
                {
                    "intentId": ctx.id,
                    "conId": con_id,
                    "action": request.action,
                    "quantity": request.quantity,
                    "sources": request.sources,
                    "orderId": outcome.get("orderId"),
                    "permId": outcome.get("permId"),
                },
            )
    for strategy, positions in by_strategy.items():
        holdings.set(strategy, positions)
    return {**plan, "orders": outcomes}
