"""`close-all`: cancel open orders, then flatten every strategy's holdings."""

from __future__ import annotations

from typing import Any

from worker.exceptions import IntentFailed
from worker.registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import market
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref


def plan(
    intent_id: str,
    held: dict[str, dict[int, float]],
    portfolio: dict[int, float],
    contracts: dict[int, Any],
    prices: dict[int, float],
    to_cancel: list[Any],
) -> OrderPlan:
    """One closing order per contract the strategies hold together, each strategy's share as its
    source; where the holdings and the IB portfolio differ, reported as `mismatch`."""
    totals = _totals(held)
    sources: dict[int, dict[str, float]] = {}
    for strategy, positions in held.items():
        for con_id, quantity in positions.items():
            sources.setdefault(con_id, {})[strategy] = -quantity  # what the order takes away
    mismatch = [
        {"conId": con_id, "holdings": totals.get(con_id, 0.0), "ib": portfolio.get(con_id, 0.0)}
        for con_id in sorted(set(totals) | set(portfolio))
        if totals.get(con_id, 0.0) != portfolio.get(con_id, 0.0)
    ]
    orders = [
        OrderRequest(
            contract=contracts[con_id],
            action="SELL" if total > 0 else "BUY",
            quantity=abs(total),
            order_ref=order_ref(intent_id, "close", str(con_id)),
            price=prices[con_id],
            multiplier=float(contracts[con_id].multiplier or 1),
            sources=sources[con_id],
        )
        for con_id, total in sorted(totals.items())
        if total
    ]
    return OrderPlan(orders, {"mismatch": mismatch}, cancel=to_cancel)


def _totals(held: dict[str, dict[int, float]]) -> dict[int, float]:
    totals: dict[int, float] = {}
    for positions in held.values():
        for con_id, quantity in positions.items():
            totals[con_id] = totals.get(con_id, 0.0) + quantity
    return totals


@intent("close-all")
def close_all(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    import ib_async

    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    held = Holdings(ctx.db, ctx.trading_mode).all()
    con_ids = sorted(c for c, total in _totals(held).items() if total)
    found = ib.qualifyContracts(*(ib_async.Contract(conId=c) for c in con_ids))
    contracts = {c.conId: c for c in found}
    if unknown := sorted(set(con_ids) - set(contracts)):
        raise IntentFailed(
            "unknown-contract", f"the gateway does not know conId {', '.join(map(str, unknown))}"
        )
    portfolio = {p.contract.conId: p for p in ib.portfolio()}
    # Positions missing from the IB portfolio still need a price for the notional limits.
    unpriced = [contracts[c] for c in con_ids if c not in portfolio]
    prices = {c: p.marketPrice for c, p in portfolio.items()} | market.prices(ib, unpriced)
    mine = f"{ctx.id}:"
    to_cancel = [t for t in ib.reqAllOpenOrders() if not t.order.orderRef.startswith(mine)]
    order_plan = plan(
        ctx.id,
        held,
        {c: p.position for c, p in portfolio.items()},
        contracts,
        prices,
        to_cancel,
    )
    return OrderDesk(ctx, ib, config).execute(order_plan, dry_run=bool(params.get("dryRun")))
