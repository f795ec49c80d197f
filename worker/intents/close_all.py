"""`close-all`: cancel working orders, then flatten what every strategy holds.

What is held includes what orders not yet reconciled filled, so the cancels come first: the
plan is made again once they took effect, from what filled before (a fill that raced a cancel is
in it). The cancelled orders' openOrders records stay: trade-reconciliation books their fills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext, intent
from worker.trading import broker_orders, market, observed
from worker.trading import config as trading_config
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref, placed_by
from worker.trading.working import Pending, held_with_pending, pending_orders

PORTFOLIO = "portfolio mark"  # IB's own mark of a position (ib.portfolio()'s marketPrice)


@dataclass(frozen=True)
class Inputs:
    held: dict[str, dict[int, float]]  # strategy -> conId -> quantity booked
    pending: tuple[Pending, ...]  # other intents' orders not booked yet
    portfolio: dict[int, float]  # conId -> IB position
    contracts: dict[int, Any]  # conId -> qualified contract
    prices: dict[int, float]  # conId -> price in the base currency
    to_cancel: tuple[Any, ...]  # working ib_async Trades, not this intent's
    # symbol -> the price each order's risk check used: IB's portfolio mark, else a price type
    # (`market.price_type`); forex pairs by name. Reported as the result's pricedOn.
    priced_on: dict[str, str] = field(default_factory=dict)


def plan(intent_id: str, inputs: Inputs) -> OrderPlan:
    """One closing order per contract for what the strategies hold together (their holdings and
    what their unreconciled orders filled), each strategy's share as its source; where that and
    the IB portfolio differ, reported as `mismatch`."""
    held = held_with_pending(inputs.held, inputs.pending, filled_only=True)
    totals = _totals(held)
    sources: dict[int, dict[str, float]] = {}
    for strategy, positions in held.items():
        for con_id, quantity in positions.items():
            sources.setdefault(con_id, {})[strategy] = -quantity  # what the order takes away
    mismatch = [
        {
            "symbol": observed.symbol(inputs.contracts[con_id])
            if con_id in inputs.contracts
            else f"conId {con_id}",
            "conId": con_id,
            "holdings": totals.get(con_id, 0.0),
            "ib": inputs.portfolio.get(con_id, 0.0),
        }
        for con_id in sorted(set(totals) | set(inputs.portfolio))
        if totals.get(con_id, 0.0) != inputs.portfolio.get(con_id, 0.0)
    ]
    orders = [
        OrderRequest(
            contract=inputs.contracts[con_id],
            action="SELL" if total > 0 else "BUY",
            quantity=abs(total),
            order_ref=order_ref(intent_id, "close", str(con_id)),
            price=inputs.prices[con_id],
            multiplier=float(inputs.contracts[con_id].multiplier or 1),
            sources=sources[con_id],
        )
        for con_id, total in sorted(totals.items())
        if total
    ]
    report = {
        "mismatch": mismatch,
        "working": [p.describe() for p in inputs.pending],
        "pricedOn": inputs.priced_on,
    }
    return OrderPlan(orders, report, cancel=list(inputs.to_cancel))


def _totals(held: dict[str, dict[int, float]]) -> dict[int, float]:
    totals: dict[int, float] = {}
    for positions in held.values():
        for con_id, quantity in positions.items():
            totals[con_id] = totals.get(con_id, 0.0) + quantity
    return {c: q for c, q in totals.items() if q}


def gather(ctx: IntentContext, ib: Any) -> Inputs:
    import ib_async

    holdings = Holdings(ctx.db, ctx.trading_mode)
    held = holdings.all()
    pending = pending_orders(holdings.open_orders(), broker_orders.read(ib), ctx.id)
    con_ids = sorted(_totals(held_with_pending(held, pending, filled_only=True)))
    found = ib.qualifyContracts(*(ib_async.Contract(conId=c) for c in con_ids))
    contracts = {c.conId: c for c in found}
    if unknown := sorted(set(con_ids) - set(contracts)):
        raise IntentFailed(
            "unknown-contract", f"the gateway does not know conId {', '.join(map(str, unknown))}"
        )
    portfolio = {p.contract.conId: p for p in ib.portfolio()}
    # Positions missing from the IB portfolio (or without a usable price there) still need a
    # price for the notional limits.
    priced = {
        c: p.marketPrice
        for c, p in portfolio.items()
        if math.isfinite(p.marketPrice or 0) and (p.marketPrice or 0) > 0
    }
    unpriced = [contracts[c] for c in con_ids if c not in priced]
    # Close-all's quantities do not depend on prices (it closes what is held): its prices only
    # feed the notional risk limits, so a stale price does not stop it (no stale_guard here).
    sized_on: dict[int, str] = {}
    prices = priced | market.prices(ib, unpriced, sized_on)
    # The risk limits are in the base currency.
    _, base = market.account_value(ib, "NetLiquidation")
    fx: dict[str, float] = {}
    priced_on = {observed.symbol(contracts[c]): sized_on.get(c, PORTFOLIO) for c in con_ids}
    rates = {c: market.fx_rate(ib, contracts[c].currency, base, fx, priced_on) for c in con_ids}
    prices = {c: prices[c] * rates[c] for c in con_ids}
    return Inputs(
        held=held,
        pending=tuple(pending),
        portfolio={c: p.position for c, p in portfolio.items()},
        contracts=contracts,
        prices=prices,
        to_cancel=tuple(t for t in ib.reqAllOpenOrders() if placed_by(t.order.orderRef) != ctx.id),
        priced_on=priced_on,
    )


@intent("close-all")
def close_all(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    market.request_data_type(ib, config)
    desk = OrderDesk(ctx, ib, config, when_closed=params.get("whenClosed", "skip"))
    first = plan(ctx.id, gather(ctx, ib))
    if params.get("dryRun"):
        return desk.execute(first, dry_run=True)
    desk.check(first)
    if (closed := desk.closed_result(first, dry_run=False)) is not None:
        return closed  # skip: nothing cancelled either
    if not first.cancel:
        return {**desk.execute(first, dry_run=False), **observed.read(ib).report()}
    desk.cancel(first)
    cancelled = first.describe(False)["cancel"]
    done = desk.execute(plan(ctx.id, gather(ctx, ib)), dry_run=False)
    return {**done, "cancel": cancelled, **observed.read(ib).report()}
