"""`allocation`: turn each strategy's signals into target positions and trade the difference.

Two halves: `gather` asks the gateway and Firestore for what the decision needs (net
liquidation, holdings, signals, quotes); `plan` decides, with no I/O, what to order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker import strategies
from worker.exceptions import IntentFailed
from worker.registry import IntentContext, intent
from worker.strategies import StrategyContext
from worker.trading import config as trading_config
from worker.trading import market
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref


@dataclass(frozen=True)
class Quote:
    """An instrument as allocation sizes it."""

    contract: Any  # ib_async.Contract, qualified
    price: float  # in the instrument's currency
    unit: float  # one unit's value in the base currency: price x multiplier x fx rate


@dataclass(frozen=True)
class Inputs:
    """Everything the decision depends on."""

    net_liquidation: float
    base_currency: str
    overall: float  # config.exposure.overall
    shares: dict[str, float]  # strategy -> config.exposure.strategies[name]
    signals: dict[str, dict[str, float]]  # strategy -> instrument key -> signal
    quotes: dict[str, Quote]  # instrument key -> quote
    held: dict[str, dict[int, float]]  # strategy -> conId -> quantity


def plan(inputs: Inputs, intent_id: str, step: str = "alloc") -> OrderPlan:
    """Targets `round(net x overall x share x signal / unit)` per strategy and instrument, and one
    order per contract for the strategies' differences to what they hold."""
    targets: dict[str, dict[str, int]] = {}
    deltas: dict[int, dict[str, float]] = {}  # conId -> strategy -> quantity to trade
    keys: dict[int, str] = {}
    for name, signals in inputs.signals.items():
        exposure = inputs.net_liquidation * inputs.overall * inputs.shares.get(name, 0.0)
        held = inputs.held.get(name, {})
        targets[name] = {}
        for key, signal in signals.items():
            quote = inputs.quotes[key]
            target = round(exposure * signal / quote.unit)
            targets[name][key] = target
            con_id = quote.contract.conId
            if delta := target - held.get(con_id, 0.0):
                deltas.setdefault(con_id, {})[name] = delta
                keys[con_id] = key
    orders = []
    for con_id, sources in sorted(deltas.items()):
        total = sum(sources.values())
        if not total:
            continue
        quote = inputs.quotes[keys[con_id]]
        orders.append(
            OrderRequest(
                contract=quote.contract,
                action="BUY" if total > 0 else "SELL",
                quantity=abs(total),
                order_ref=order_ref(intent_id, step, str(con_id)),
                price=quote.price,
                multiplier=float(quote.contract.multiplier or 1),
                sources=sources,
            )
        )
    report = {
        "netLiquidation": inputs.net_liquidation,
        "baseCurrency": inputs.base_currency,
        "overallExposure": inputs.overall,
        "signals": inputs.signals,
        "targets": targets,
        "holdings": {
            name: {str(k): v for k, v in inputs.held.get(name, {}).items()}
            for name in inputs.signals
        },
    }
    return OrderPlan(orders, report)


def gather(ctx: IntentContext, ib: Any, config: dict[str, Any], names: list[str]) -> Inputs:
    exposure = config.get("exposure") or {}
    net, base = market.account_value(ib, "NetLiquidation")
    signals = {}
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
    quotes = {}
    for key, c in contracts.items():
        unit = prices[c.conId] * float(c.multiplier or 1) * market.fx_rate(ib, c.currency, base, fx)
        quotes[key] = Quote(c, prices[c.conId], unit)
    shares = exposure.get("strategies") or {}
    return Inputs(
        net_liquidation=net,
        base_currency=base,
        overall=float(exposure.get("overall", 0)),
        shares={name: float(shares.get(name, 0)) for name in names},
        signals=signals,
        quotes=quotes,
        held=Holdings(ctx.db, ctx.trading_mode).all(),
    )


@intent("allocation")
def allocation(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    exposure = config.get("exposure") or {}
    if not float(exposure.get("overall", 0)):
        return {"note": "config.exposure.overall is 0: nothing to do", "orders": []}
    names = params.get("strategies") or sorted(exposure.get("strategies") or {})
    inputs = gather(ctx, ib, config, names)
    desk = OrderDesk(ctx, ib, config, params.get("orderProperties"))
    return desk.execute(plan(inputs, ctx.id), dry_run=bool(params.get("dryRun")))
