"""`cash-balancer`: convert cash in other currencies back to the base currency."""

from __future__ import annotations

from typing import Any

from worker.registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import market
from worker.trading.config import RiskLimits
from worker.trading.order_desk import OrderDesk, OrderRequest, check_limits, order_ref

LOT = 1000


@intent("cash-balancer")
def cash_balancer(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    import ib_async

    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    threshold = float(config.get("cashBalanceThresholdInBaseCurrency", 0))
    _, base = market.account_value(ib, "NetLiquidation")
    balances = {
        v.currency: float(v.value)
        for v in ib.accountValues()
        if v.tag == "CashBalance" and v.currency not in ("", "BASE", base)
    }
    fx: dict[str, float] = {}
    requests, checked = [], {}
    for currency, balance in sorted(balances.items()):
        rate = market.fx_rate(ib, currency, base, fx)
        value = balance * rate
        checked[currency] = {"balance": balance, "inBase": round(value, 2)}
        if abs(value) <= threshold:
            continue
        direct = ib_async.Forex(f"{currency}{base}")
        if ib.qualifyContracts(direct) and direct.conId:  # EUR.USD: sell EUR
            contract, quantity = direct, round(balance / LOT) * LOT
            action = "SELL" if quantity > 0 else "BUY"
        else:  # USD.CHF: buy USD with the CHF
            contract = ib_async.Forex(f"{base}{currency}")
            ib.qualifyContracts(contract)
            quantity = round(value / LOT) * LOT
            action = "BUY" if quantity > 0 else "SELL"
        if quantity:
            requests.append(
                OrderRequest(
                    contract=contract,
                    action=action,
                    quantity=abs(quantity),
                    order_ref=order_ref(ctx.id, "cash", currency),
                    price=rate if contract is direct else 1.0,
                    sources={},
                )
            )
    result = {
        "baseCurrency": base,
        "threshold": threshold,
        "balances": checked,
        "orders": [
            {"orderRef": r.order_ref, "pair": r.symbol, "action": r.action, "quantity": r.quantity}
            for r in requests
        ],
        "dryRun": bool(params.get("dryRun")),
    }
    if params.get("dryRun"):
        return result
    check_limits(requests, RiskLimits.from_config(config), ctx.placed)
    return {**result, "orders": OrderDesk(ctx, ib).place(requests)}
