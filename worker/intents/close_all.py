"""`close-all`: cancel open orders, then flatten every strategy's holdings."""

from __future__ import annotations

import time
from typing import Any

from worker.exceptions import IntentFailed
from worker.registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import market
from worker.trading.config import RiskLimits
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk, OrderRequest, check_limits, order_ref

CANCEL_SECONDS = 5.0
DONE = ("Cancelled", "ApiCancelled", "Filled", "Inactive")


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
            sources.setdefault(con_id, {})[strategy] = -quantity  # what the order takes away
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

    held = {con_id: total for con_id, total in sorted(totals.items()) if total}
    found = ib.qualifyContracts(*(ib_async.Contract(conId=con_id) for con_id in held))
    contracts = {c.conId: c for c in found}
    unknown = sorted(set(held) - set(contracts))
    if unknown:
        raise IntentFailed(
            "unknown-contract", f"the gateway does not know conId {', '.join(map(str, unknown))}"
        )
    # Positions missing from the IB portfolio still need a price for the notional limits.
    unpriced = [contracts[c] for c in held if c not in portfolio]
    price = {c: p.marketPrice for c, p in portfolio.items()} | market.prices(ib, unpriced)
    requests = [
        OrderRequest(
            contract=contracts[con_id],
            action="SELL" if total > 0 else "BUY",
            quantity=abs(total),
            order_ref=order_ref(ctx.id, "close", str(con_id)),
            price=price[con_id],
            multiplier=float(contracts[con_id].multiplier or 1),
            sources=sources[con_id],
        )
        for con_id, total in held.items()
    ]
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

    check_limits(requests, RiskLimits.from_config(config), ctx.placed)
    desk = OrderDesk(ctx, ib)
    desk.guard()
    for trade in to_cancel:
        # Their openOrders records stay: trade-reconciliation books what filled before the cancel.
        ib.cancelOrder(trade.order)
    deadline = time.monotonic() + CANCEL_SECONDS
    while (working := _still_working(to_cancel)) and time.monotonic() < deadline:
        ib.sleep(0.1)
    if working:
        # Flattening while they can still fill could overshoot: stop before any close order.
        refs = ", ".join(t.order.orderRef or str(t.order.orderId) for t in working)
        raise IntentFailed(
            "cancel-failed",
            f"could not cancel {refs} (placed by another client id?); cancel them in TWS, "
            "then run close-all again. No position was closed.",
            result=plan,
        )
    outcomes = desk.place(requests)
    return {**plan, "orders": outcomes}


def _still_working(trades: list[Any]) -> list[Any]:
    return [t for t in trades if t.orderStatus.status not in DONE]
