"""`allocation`: turn each strategy's signals into target positions and trade the difference."""

from __future__ import annotations

from typing import Any

from worker import strategies
from worker.exceptions import IntentFailed
from worker.registry import IntentContext, intent
from worker.strategies import StrategyContext
from worker.trading import config as trading_config
from worker.trading import market
from worker.trading.config import RiskLimits
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk, OrderRequest, check_limits, order_ref


def plan(
    ctx: IntentContext, ib: Any, config: dict[str, Any], names: list[str], step: str = "alloc"
) -> dict[str, Any]:
    """Signals, holdings, targets and consolidated trades; nothing is sent."""
    exposure_config = config.get("exposure") or {}
    overall = float(exposure_config.get("overall", 0))
    net, base = market.account_value(ib, "NetLiquidation")
    holdings = Holdings(ctx.db, ctx.trading_mode).all()
    signals, targets = {}, {}
    for name in names:
        run = strategies.get(name)
        if run is None:
            raise IntentFailed(
                "unknown-strategy",
                f"unknown strategy {name!r} (known: {', '.join(strategies.names())})",
            )
        settings = (config.get("strategies") or {}).get(name) or {}
        signals[name] = run(StrategyContext(name, settings, ctx.trading_mode, ib))
    keys = sorted({k for s in signals.values() for k in s})
    contracts = market.contracts(ib, config.get("instruments") or {}, keys)
    prices = market.prices(ib, list(contracts.values())) if keys else {}
    fx: dict[str, float] = {}
    trades: dict[int, dict[str, Any]] = {}
    for name in names:
        exposure = net * overall * float((exposure_config.get("strategies") or {}).get(name, 0))
        held = holdings.get(name, {})
        targets[name] = {}
        for key, signal in signals[name].items():
            c = contracts[key]
            unit = (
                prices[c.conId]
                * float(c.multiplier or 1)
                * market.fx_rate(ib, c.currency, base, fx)
            )
            target = round(exposure * signal / unit)
            targets[name][key] = target
            delta = target - held.get(c.conId, 0.0)
            if delta:
                trade = trades.setdefault(
                    c.conId,
                    {
                        "key": key,
                        "contract": c,
                        "quantity": 0.0,
                        "sources": {},
                        "price": prices[c.conId],
                    },
                )
                trade["quantity"] += delta
                trade["sources"][name] = delta
    requests = [
        OrderRequest(
            contract=t["contract"],
            action="BUY" if t["quantity"] > 0 else "SELL",
            quantity=abs(t["quantity"]),
            order_ref=order_ref(ctx.id, step, str(con_id)),
            price=t["price"],
            multiplier=float(t["contract"].multiplier or 1),
            sources=t["sources"],
        )
        for con_id, t in sorted(trades.items())
        if t["quantity"]
    ]
    return {
        "netLiquidation": net,
        "baseCurrency": base,
        "overallExposure": overall,
        "signals": signals,
        "targets": targets,
        "holdings": {n: {str(k): v for k, v in holdings.get(n, {}).items()} for n in names},
        "trades": [r.planned() for r in requests],
        "_requests": requests,
    }


@intent("allocation")
def allocation(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    names = params.get("strategies") or sorted(
        (config.get("exposure") or {}).get("strategies") or {}
    )
    if not float((config.get("exposure") or {}).get("overall", 0)):
        return {"note": "config.exposure.overall is 0: nothing to do", "orders": []}
    result = plan(ctx, ib, config, names)
    requests = result.pop("_requests")
    if params.get("dryRun"):
        return {**result, "dryRun": True, "orders": []}
    check_limits(requests, RiskLimits.from_config(config), ctx.placed)
    desk = OrderDesk(
        ctx,
        ib,
        params.get("orderProperties"),
        algo_priority=config.get("adaptivePriority", "Normal"),
    )
    outcomes = desk.place(requests)
    return {**result, "dryRun": False, "orders": outcomes}
