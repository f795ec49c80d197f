"""`summary`: account values, portfolio, open trades and fills, as a scheduled report."""

from __future__ import annotations

from typing import Any

from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext, intent

ACCOUNT_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "BuyingPower",
    "GrossPositionValue",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "UnrealizedPnL",
    "RealizedPnL",
)


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


@intent("summary")
def summary(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    accounts = ib.managedAccounts()
    account = params.get("account") or (accounts[0] if accounts else "")
    if account not in accounts:
        raise IntentFailed(
            "unknown-account",
            f"account {account!r} is not managed by this login ({', '.join(accounts)})",
        )
    values = ib.accountValues(account)
    base = next((v.currency for v in values if v.tag == "NetLiquidation" and v.currency), "")
    return {
        "account": account,
        "baseCurrency": base,
        "values": {
            v.tag: _number(v.value)
            for v in values
            if v.tag in ACCOUNT_TAGS and v.currency in (base, "")
        },
        "cash": {
            v.currency: _number(v.value)
            for v in values
            if v.tag == "CashBalance" and v.currency not in ("", "BASE")
        },
        "portfolio": [
            {
                "conId": p.contract.conId,
                "symbol": p.contract.localSymbol or p.contract.symbol,
                "secType": p.contract.secType,
                "currency": p.contract.currency,
                "position": p.position,
                "marketPrice": p.marketPrice,
                "marketValue": p.marketValue,
                "averageCost": p.averageCost,
                "unrealizedPnL": p.unrealizedPNL,
                "realizedPnL": p.realizedPNL,
            }
            for p in ib.portfolio(account)
        ],
        "openTrades": [
            {
                "orderId": t.order.orderId,
                "permId": t.order.permId,
                "orderRef": t.order.orderRef,
                "symbol": t.contract.localSymbol or t.contract.symbol,
                "action": t.order.action,
                "quantity": t.order.totalQuantity,
                "orderType": t.order.orderType,
                "status": t.orderStatus.status,
                "filled": t.orderStatus.filled,
                "remaining": t.orderStatus.remaining,
            }
            for t in ib.openTrades()
        ],
        "fills": [
            {
                "execId": f.execution.execId,
                "time": f.time.isoformat(),
                "symbol": f.contract.localSymbol or f.contract.symbol,
                "side": f.execution.side,
                "shares": f.execution.shares,
                "price": f.execution.price,
                "orderRef": f.execution.orderRef,
                "commission": f.commissionReport.commission if f.commissionReport else None,
                "realizedPnL": f.commissionReport.realizedPNL if f.commissionReport else None,
            }
            for f in ib.fills()
        ],
    }
