"""Encoders for the long gateway messages: orders, executions, contract details.

Field order follows ib_async's decoder for server version 176 (no faProfile removal, no
pendingPriceRevision).
"""

from __future__ import annotations

from simulator import close_orders
from simulator.broker import Execution, Order
from simulator.instruments import Instrument
from simulator.margin import WhatIf
from simulator.protocol import Out


def _contract11(i: Instrument) -> list[object]:
    """conId, symbol, secType, expiry, strike, right, multiplier, exchange, currency,
    localSymbol, tradingClass (no primaryExchange)."""
    return [
        i.conId,
        i.symbol,
        i.secType,
        i.lastTradeDateOrContractMonth,
        0.0,
        "",
        i.multiplier,
        i.exchange,
        i.currency,
        i.localSymbol or i.symbol,
        i.tradingClass or i.symbol,
    ]


def _algo(o: Order) -> list[object]:
    if not o.algoStrategy:
        return [""]
    return [o.algoStrategy, len(o.algoParams), *(x for kv in o.algoParams for x in kv)]


def open_order(o: Order, what_if: WhatIf | None = None) -> list[object]:
    i = o.instrument
    return [
        Out.OPEN_ORDER,
        o.orderId,
        *_contract11(i),
        o.action,
        o.totalQuantity,
        o.orderType,
        o.lmtPrice,
        "",
        o.tif,
        "",
        o.account,
        "O",
        0,
        o.orderRef,
        o.clientId,
        o.permId,
        0,
        0,
        0,
        o.goodAfterTime,
        "",
        "",
        "",
        "",
        "",  # faProfile (server < 177)
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        -1,
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        0,
        0,
        0,
        "",
        3,
        0,
        0,
        "",
        0,
        0,
        "",
        0,
        "",
        "",  # triggerMethod, volatility, volatilityType, dnType, dnAux
        0,
        "",
        "",
        "",
        "",
        "",
        "",  # continuousUpdate .. comboLegsDescrip
        0,
        0,
        0,  # combo legs, order combo legs, smart combo routing params
        "",
        "",
        "",  # scale init level, scale subs level, scale price increment
        "",  # hedgeType
        0,
        "",
        "",
        0,
        0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        *_algo(o),
        0,
        1 if what_if else 0,
        o.status,
        *_order_state(what_if),
        0,
        0,
        0,  # conditions
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        "",
        "",
        "",
        0,
        0,
        "",
        0,
        "",
        0,
        0,  # duration, postToAts, autoCancelParent
        "",
        "",
        "",
        "",
        "",  # minTradeQty .. midOffsetAtHalf
    ]


def _order_state(w: WhatIf | None) -> list[object]:
    """initMarginBefore .. warningText: what a whatIf order would do, else empty."""
    if w is None:
        return [""] * 14
    money = [
        w.before.init,
        w.before.maint,
        w.before.equity_with_loan,
        w.after.init - w.before.init,
        w.after.maint - w.before.maint,
        w.after.equity_with_loan - w.before.equity_with_loan,
        w.after.init,
        w.after.maint,
        w.after.equity_with_loan,
    ]
    fees = [w.commission] * 3  # commission, min, max
    return [*(f"{v:.2f}" for v in money), *fees, w.currency, w.warning]


def completed_order(o: Order, completed_time: str) -> list[object]:
    i = o.instrument
    return [
        Out.COMPLETED_ORDER,
        *_contract11(i),
        o.action,
        o.totalQuantity,
        o.orderType,
        o.lmtPrice,
        "",
        o.tif,
        "",
        o.account,
        "O",
        0,
        o.orderRef,
        o.permId,
        0,
        0,
        "",
        o.goodAfterTime,
        "",
        "",
        "",
        "",  # faProfile
        "",
        "",
        "",
        "",
        "",
        0,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        0,
        0,
        "",
        0,
        0,
        "",
        0,
        "",
        "",
        0,
        "",
        "",
        "",
        "",  # continuousUpdate .. comboLegsDescrip
        0,
        0,
        0,
        "",
        "",
        "",
        "",  # legs, order legs, params, scale x3, hedgeType
        "",
        "",
        0,
        0,  # clearingAccount, clearingIntent, notHeld, dnc
        *_algo(o),
        0,
        o.status,
        0,
        0,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions
        "",
        "",
        "",
        0,
        0,
        "",
        o.filled,
        0,
        0,
        "",
        0,
        0,
        0,
        completed_time,
        o.status,
        "",
        "",
        "",
        "",
        "",
    ]


def order_status(o: Order) -> list[object]:
    return [
        Out.ORDER_STATUS,
        o.orderId,
        o.status,
        o.filled,
        o.totalQuantity - o.filled,
        o.avgFillPrice,
        o.permId,
        0,
        o.lastFillPrice,
        o.clientId,
        "",
        0.0,
    ]


def exec_details(req_id: int, e: Execution) -> list[object]:
    return [
        Out.EXECUTION_DATA,
        req_id,
        e.orderId,
        *_contract11(e.instrument),
        e.execId,
        e.time.strftime("%Y%m%d %H:%M:%S UTC"),
        e.account,
        e.instrument.exchange,
        e.side,
        e.shares,
        e.price,
        e.permId,
        e.clientId,
        0,
        e.cumQty,
        e.avgPrice,
        e.orderRef,
        "",
        "",
        "",
        1,
    ]


def commission_report(e: Execution) -> list[object]:
    return [
        Out.COMMISSION_REPORT,
        1,
        e.execId,
        e.commission,
        e.commissionCurrency,
        e.realizedPnL if e.realizedPnL else 1.7976931348623157e308,
        "",
        "",
    ]


def contract_details(
    req_id: int, i: Instrument, hours: tuple[str, str, str] = ("US/Eastern", "", "")
) -> list[object]:
    """`hours`: (timeZoneId, tradingHours, liquidHours)."""
    min_tick = 0.00005 if i.secType == "CASH" else 0.25 if i.secType == "FUT" else 0.01
    order_types = close_orders.listed(i.secType)
    exchanges = "SMART,ARCA,NASDAQ,NYSE" if i.secType == "STK" else i.exchange
    return [
        Out.CONTRACT_DATA,
        req_id,
        i.symbol,
        i.secType,
        i.lastTradeDateOrContractMonth,
        0.0,
        "",
        i.exchange,
        i.currency,
        i.localSymbol or i.symbol,
        i.tradingClass or i.symbol,
        i.tradingClass or i.symbol,
        i.conId,
        min_tick,
        i.multiplier,
        order_types,
        exchanges,
        1,
        0,
        i.longName or i.symbol,
        i.primaryExchange,
        i.lastTradeDateOrContractMonth[:6],
        "",
        "",
        "",
        *hours,
        "",
        "",
        0,  # ... evRule, evMultiplier, no secIds
        1,
        "",
        "",
        "26",
        i.lastTradeDateOrContractMonth,
        "COMMON" if i.secType == "STK" else "",
        1,
        1,
        1,  # minSize, sizeIncrement, suggestedSizeIncrement
    ]
