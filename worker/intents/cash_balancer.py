"""`cash-balancer`: convert cash in other currencies back to the base currency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import market
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref

LOT = 1000


@dataclass(frozen=True)
class Balance:
    """A cash balance in a currency other than the base, and how it can be converted."""

    currency: str
    amount: float
    rate: float  # base per unit of `currency`
    pair: Any  # the forex contract to trade
    direct: bool  # True: CUR.BASE (sell CUR); False: BASE.CUR (buy BASE with CUR)


def plan(intent_id: str, base: str, threshold: float, balances: list[Balance]) -> OrderPlan:
    """One order per balance worth more than `threshold` in the base currency, in whole lots."""
    orders, checked = [], {}
    for b in sorted(balances, key=lambda b: b.currency):
        value = b.amount * b.rate
        checked[b.currency] = {"balance": b.amount, "inBase": round(value, 2)}
        if abs(value) <= threshold:
            continue
        quantity = round((b.amount if b.direct else value) / LOT) * LOT
        if not quantity:
            continue
        selling = quantity > 0 if b.direct else quantity < 0
        orders.append(
            OrderRequest(
                contract=b.pair,
                action="SELL" if selling else "BUY",
                quantity=abs(quantity),
                order_ref=order_ref(intent_id, "cash", b.currency),
                price=b.rate if b.direct else 1.0,
            )
        )
    return OrderPlan(orders, {"baseCurrency": base, "threshold": threshold, "balances": checked})


def gather(ib: Any, base: str) -> list[Balance]:
    import ib_async

    fx: dict[str, float] = {}
    found = []
    for v in ib.accountValues():
        if v.tag != "CashBalance" or v.currency in ("", "BASE", base):
            continue
        rate = market.fx_rate(ib, v.currency, base, fx)
        pair = ib_async.Forex(f"{v.currency}{base}")
        direct = bool(ib.qualifyContracts(pair) and pair.conId)  # EUR.USD: sell EUR
        if not direct:  # USD.CHF: buy USD with the CHF
            pair = ib_async.Forex(f"{base}{v.currency}")
            ib.qualifyContracts(pair)
        found.append(Balance(v.currency, float(v.value), rate, pair, direct))
    return found


@intent("cash-balancer")
def cash_balancer(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    threshold = float(config.get("cashBalanceThresholdInBaseCurrency", 0))
    _, base = market.account_value(ib, "NetLiquidation")
    order_plan = plan(ctx.id, base, threshold, gather(ib, base))
    return OrderDesk(ctx, ib, config).execute(order_plan, dry_run=bool(params.get("dryRun")))
