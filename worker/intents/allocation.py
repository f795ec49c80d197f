"""`allocation`: turn each strategy's signals into target positions and trade the difference.

Two halves: `gather` asks the gateway and Firestore for what the decision needs (net
liquidation, holdings, orders still working, signals, quotes); `plan` decides, with no I/O, what
to order. Orders still working count as held (worker.trading.working): they are left alone, only
the rest is ordered, and never against a working order on the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worker import strategies
from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext, intent
from worker.strategies import StrategyContext
from worker.trading import broker_orders, market, observed, stale_guard
from worker.trading import config as trading_config
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref
from worker.trading.price_age import Observed
from worker.trading.working import Pending, blockers, held_with_pending, pending_orders


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
    held: dict[str, dict[int, float]]  # strategy -> conId -> quantity booked
    pending: tuple[Pending, ...] = ()  # orders not booked yet (other intents')
    # What the strategies hold (or have on the way) that their signals no longer name: target 0.
    unsignalled: dict[int, Quote] = field(default_factory=dict)  # conId -> quote
    priced_on: dict[str, str] = field(default_factory=dict)  # symbol -> price type (reported)
    seen: tuple[Observed, ...] = ()  # every price above, for the stale-price check


def plan(inputs: Inputs, intent_id: str, step: str = "alloc") -> OrderPlan:
    """Targets `round(net x overall x share x signal / unit)` per strategy and instrument (0 for
    what a strategy holds that its signals do not name), and one order per contract for the
    strategies' differences to what they hold (booked or on its way); an order that would go
    against a working order, or next to one this worker did not place, is held back."""
    held = held_with_pending(inputs.held, inputs.pending)
    targets: dict[str, dict[str, int]] = {}
    deltas: dict[int, dict[str, float]] = {}  # conId -> strategy -> quantity to trade
    quote_of: dict[int, Quote] = {}
    for name, signals in inputs.signals.items():
        exposure = inputs.net_liquidation * inputs.overall * inputs.shares.get(name, 0.0)
        wanted = {
            inputs.quotes[key].contract.conId: (key, inputs.quotes[key], signal)
            for key, signal in signals.items()
        }
        for con_id in held.get(name, {}):
            if con_id not in wanted and con_id in inputs.unsignalled:
                quote = inputs.unsignalled[con_id]
                wanted[con_id] = (quote.contract.localSymbol or quote.contract.symbol, quote, 0.0)
        targets[name] = {}
        for con_id, (key, quote, signal) in wanted.items():
            target = round(exposure * signal / quote.unit)
            targets[name][key] = target
            if delta := target - held.get(name, {}).get(con_id, 0.0):
                deltas.setdefault(con_id, {})[name] = delta
                quote_of[con_id] = quote
    orders, held_back = [], []
    for con_id, sources in sorted(deltas.items()):
        total = sum(sources.values())
        if not total:
            continue
        quote = quote_of[con_id]
        request = OrderRequest(
            contract=quote.contract,
            action="BUY" if total > 0 else "SELL",
            quantity=abs(total),
            order_ref=order_ref(intent_id, step, str(con_id)),
            price=quote.unit / float(quote.contract.multiplier or 1),  # in the base currency
            multiplier=float(quote.contract.multiplier or 1),
            sources=sources,
            fx=quote.unit / (quote.price * float(quote.contract.multiplier or 1)),
        )
        if waiting := blockers(inputs.pending, con_id, 1 if total > 0 else -1):
            held_back.append({**request.planned(), "because": [p.order_ref for p in waiting]})
        else:
            orders.append(request)
    quoted = [*inputs.quotes.values(), *inputs.unsignalled.values()]
    label = observed.labels(
        {k for name in inputs.signals for k in inputs.held.get(name, {})},
        {q.contract.conId: observed.symbol(q.contract) for q in quoted},
    )
    report = {
        "netLiquidation": inputs.net_liquidation,
        "baseCurrency": inputs.base_currency,
        "overallExposure": inputs.overall,
        "signals": inputs.signals,
        "targets": targets,
        "holdings": {
            name: {label[k]: v for k, v in inputs.held.get(name, {}).items()}
            for name in inputs.signals
        },
        "conIds": {label[k]: k for k in label},
        "working": [p.describe() for p in inputs.pending],
    }
    if held_back:
        report["heldBack"] = held_back
    return OrderPlan(orders, report)


def gather(ctx: IntentContext, ib: Any, config: dict[str, Any], names: list[str]) -> Inputs:
    found = {name: strategies.get(name) for name in names}
    runs = {name: run for name, run in found.items() if run is not None}
    unknown = [name for name in names if name not in runs]
    if unknown:
        raise IntentFailed(
            "unknown-strategy",
            f"unknown strategy {unknown[0]!r} (known: {', '.join(strategies.names())})",
        )
    shares = {
        name: float(trading_config.require(config, f"exposure.strategies.{name}")) for name in names
    }
    net, base = market.account_value(ib, "NetLiquidation")
    instruments = config.get("instruments") or {}
    signals = {}
    for name, run in runs.items():
        settings = (config.get("strategies") or {}).get(name) or {}
        signals[name] = run(
            StrategyContext(name, settings, ctx.trading_mode, ib, instruments, ctx.deadline)
        )
    keys = sorted({k for s in signals.values() for k in s})
    contracts = market.contracts(ib, instruments, keys)
    holdings = Holdings(ctx.db, ctx.trading_mode)
    held = holdings.all()
    pending = pending_orders(holdings.open_orders(), broker_orders.read(ib), ctx.id)
    signalled = {c.conId for c in contracts.values()}
    effective = held_with_pending(held, pending)
    others = sorted({c for n in names for c in effective.get(n, {})} - signalled)
    by_id = market.by_con_id(ib, others)
    sized_on: dict[int, str] = {}
    priced = [*contracts.values(), *by_id.values()]
    seen: list[Observed] = []  # each price as stale_guard judges it once the plan is made
    prices = market.prices(ib, priced, sized_on, seen) if keys or others else {}
    fx: dict[str, float] = {}
    fx_on: dict[str, str] = {}

    def quote(c: Any) -> Quote:
        rate = market.fx_rate(ib, c.currency, base, fx, fx_on, seen)
        return Quote(c, prices[c.conId], prices[c.conId] * float(c.multiplier or 1) * rate)

    return Inputs(
        net_liquidation=net,
        base_currency=base,
        overall=float(trading_config.require(config, "exposure.overall")),
        shares=shares,
        signals=signals,
        quotes={key: quote(c) for key, c in contracts.items()},
        held=held,
        pending=tuple(pending),
        unsignalled={c: quote(contract) for c, contract in by_id.items()},
        priced_on={c.localSymbol or c.symbol: sized_on[c.conId] for c in priced} | fx_on,
        seen=tuple(seen),
    )


@intent("allocation")
def allocation(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    if not float(trading_config.require(config, "exposure.overall")):
        return {"note": "config.exposure.overall is 0: nothing to do", "orders": []}
    names = params.get("strategies") or sorted(
        trading_config.require(config, "exposure.strategies")
    )
    market.request_data_type(ib, config)
    inputs = gather(ctx, ib, config, names)
    desk = OrderDesk(
        ctx, ib, config, params.get("orderProperties"), params.get("whenClosed", "skip")
    )
    dry_run = bool(params.get("dryRun"))
    order_plan = plan(inputs, ctx.id)
    try:
        skipped = stale_guard.check(ib, desk, order_plan, inputs.seen, config, dry_run)
    except IntentFailed as exc:  # stale-price: the result says what each price was
        exc.result = {**exc.result, "pricedOn": inputs.priced_on}
        raise
    if skipped is not None:
        return {**skipped, "pricedOn": inputs.priced_on}
    result = {**desk.execute(order_plan, dry_run=dry_run), "pricedOn": inputs.priced_on}
    return result if dry_run else {**result, **observed.read(ib).report()}
