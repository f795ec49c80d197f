"""`cash-balancer`: convert cash in other currencies back to the base currency.

`gather` reads the balances and the conversions still working; `plan` decides, with no I/O. A
conversion never exceeds the balance: what a working conversion will still take is taken off
first, and quantities are rounded towards zero in lots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from worker.intent_registry import IntentContext, intent
from worker.trading import broker_orders, market, stale_guard
from worker.trading import config as trading_config
from worker.trading.holdings import Holdings
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest, order_ref
from worker.trading.price_age import Observed
from worker.trading.working import pending_orders, unfilled_by_contract

LOT = 1000
# An indirect conversion (buy the base with the currency) pays the ask, a little above the rate
# it is sized with: keep that much of the balance aside so the cost never exceeds it.
SPREAD_MARGIN = 0.001


@dataclass(frozen=True)
class Balance:
    """A cash balance in a currency other than the base, and how it can be converted."""

    currency: str
    amount: float
    rate: float  # base per unit of `currency`
    pair: Any  # the forex contract to trade
    direct: bool  # True: CUR.BASE (sell CUR); False: BASE.CUR (buy BASE with CUR)
    working: float = 0.0  # signed quantity of the pair still to fill in working orders

    def left(self) -> float:
        """The amount once the working conversions have filled, in `currency`."""
        if self.direct:  # the pair's quantity is in `currency`
            return self.amount + self.working
        return self.amount - self.working / self.rate  # in the base: costs 1/rate each


def plan(intent_id: str, base: str, threshold: float, balances: list[Balance]) -> OrderPlan:
    """One order per balance worth more than `threshold` in the base currency once the working
    conversions filled, in whole lots, rounded towards zero."""
    orders, checked = [], {}
    for b in sorted(balances, key=lambda b: b.currency):
        left = b.left()
        value = left * b.rate
        checked[b.currency] = {"balance": b.amount, "inBase": round(b.amount * b.rate, 2)}
        if b.working:
            checked[b.currency]["afterWorking"] = round(left, 2)
        if abs(value) <= threshold:
            continue
        if b.direct:
            quantity = math.trunc(left / LOT) * LOT
        else:
            quantity = math.trunc(value * (1 - SPREAD_MARGIN) / LOT) * LOT
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


def gather(
    ib: Any,
    base: str,
    working: dict[int, float],
    priced_on: dict[str, str] | None = None,
    seen: list[Observed] | None = None,
) -> list[Balance]:
    """The balances other than the base; `working`: conId -> signed quantity still to fill.
    Each rate's price type is noted in `priced_on` by pair, and the price in `seen` (for
    `stale_guard`)."""
    import ib_async

    fx: dict[str, float] = {}
    found = []
    for v in ib.accountValues():
        if v.tag != "CashBalance" or v.currency in ("", "BASE", base):
            continue
        rate = market.fx_rate(ib, v.currency, base, fx, priced_on, seen)
        pair = ib_async.Forex(f"{v.currency}{base}")
        direct = bool(ib.qualifyContracts(pair) and pair.conId)  # EUR.USD: sell EUR
        if not direct:  # USD.CHF: buy USD with the CHF
            pair = ib_async.Forex(f"{base}{v.currency}")
            ib.qualifyContracts(pair)
        amount = float(v.value)
        found.append(Balance(v.currency, amount, rate, pair, direct, working.get(pair.conId, 0.0)))
    return found


@intent("cash-balancer")
def cash_balancer(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    market.request_data_type(ib, config)
    threshold = float(trading_config.require(config, "cashBalanceThresholdInBaseCurrency"))
    _, base = market.account_value(ib, "NetLiquidation")
    records = Holdings(ctx.db, ctx.trading_mode).open_orders()
    pending = pending_orders(records, broker_orders.read(ib), ctx.id)
    priced_on: dict[str, str] = {}
    seen: list[Observed] = []
    balances = gather(ib, base, unfilled_by_contract(pending), priced_on, seen)
    order_plan = plan(ctx.id, base, threshold, balances)
    order_plan.report["working"] = [p.describe() for p in pending if p.unfilled]
    order_plan.report["pricedOn"] = priced_on
    desk = OrderDesk(ctx, ib, config, when_closed=params.get("whenClosed", "skip"))
    dry_run = bool(params.get("dryRun"))
    if (skipped := stale_guard.check(ib, desk, order_plan, seen, config, dry_run)) is not None:
        return skipped
    return desk.execute(order_plan, dry_run=dry_run)
