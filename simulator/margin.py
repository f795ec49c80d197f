"""Margin and what-if orders: what an order would do to the account, without doing it.

The account's margin is MARGIN_RATE of the gross position value, for initial and maintenance
margin alike, as its account values (MaintMarginReq, AvailableFunds, ExcessLiquidity) report
it; equity with loan is the net liquidation value.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from simulator.broker import Broker, Order, OrderError, commission_for
from simulator.close_orders import ORDER_TYPES
from simulator.market import Market
from simulator.state import State

MARGIN_RATE = 0.25


@dataclass(frozen=True)
class Requirement:
    init: float
    maint: float
    equity_with_loan: float

    @property
    def excess_liquidity(self) -> float:
        return self.equity_with_loan - self.maint


@dataclass(frozen=True)
class WhatIf:
    """IB's OrderState for a whatIf order: the account before and after, and the commission."""

    before: Requirement
    after: Requirement
    commission: float
    currency: str
    warning: str = ""


def requirement(state: State) -> Requirement:
    gross = sum(abs(state.market_value(p)) for p in state.positions)
    return Requirement(gross * MARGIN_RATE, gross * MARGIN_RATE, state.net_liquidation())


def what_if(state: State, market: Market, order: Order) -> WhatIf:
    """Fill `order` in full on a copy of the account at today's quote (the limit price for a
    limit order); the account itself and the market's walk are left as they were."""
    if not order.totalQuantity > 0 or order.totalQuantity == float("inf"):
        raise OrderError(434, "The order size cannot be zero.")
    if order.orderType not in ORDER_TYPES:
        raise OrderError(
            387, f"Unsupported order type {order.orderType} (simulator: {', '.join(ORDER_TYPES)})"
        )
    if order.orderType in ("LMT", "LOC") and not order.lmtPrice:
        raise OrderError(320, f"Limit price missing for {order.orderType} order")
    before = requirement(state)
    trial = copy.deepcopy(state)
    instrument = trial.instrument(order.instrument.conId) or order.instrument
    bid, ask = market.bid_ask(instrument)
    price = order.lmtPrice if order.lmtPrice else ask if order.action == "BUY" else bid
    assert price is not None
    shares = order.totalQuantity
    signed = shares if order.action == "BUY" else -shares
    commission = commission_for(instrument, shares, price)
    books = Broker(trial, market)
    realized = books._book_position(instrument, signed, price)
    books._book_cash(instrument, signed, price, commission, realized)
    after = requirement(trial)
    warning = ""
    if after.equity_with_loan < after.init:
        warning = (
            f"The order would leave equity with loan {after.equity_with_loan:,.2f} below the "
            f"initial margin {after.init:,.2f}"
        )
    return WhatIf(before, after, commission, state.base_currency, warning)
