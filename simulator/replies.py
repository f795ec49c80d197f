"""Replies shared by several requests: account values and positions."""

from __future__ import annotations

from simulator import clock
from simulator.instruments import Position
from simulator.protocol import Out
from simulator.session import Session
from simulator.state import State


def account_values(st: State) -> list[tuple[str, str, str]]:
    """(key, value, currency) as reqAccountUpdates reports them."""
    base, net = st.base_currency, st.net_liquidation()
    gross = sum(abs(st.market_value(p)) for p in st.positions)
    total_cash = sum(a * st.fx.get(c, 1) for c, a in st.cash.items())
    values = [
        ("AccountType", "INDIVIDUAL", ""),
        ("NetLiquidation", f"{net:.2f}", base),
        ("TotalCashValue", f"{total_cash:.2f}", base),
        ("GrossPositionValue", f"{gross:.2f}", base),
        ("MaintMarginReq", f"{gross * 0.25:.2f}", base),
        ("BuyingPower", f"{(net - gross * 0.25) * 4:.2f}", base),
        ("AvailableFunds", f"{net - gross * 0.25:.2f}", base),
        ("ExcessLiquidity", f"{net - gross * 0.25:.2f}", base),
    ]
    for ccy, amount in st.cash.items():
        values.append(("CashBalance", f"{amount:.2f}", ccy))
        values.append(("ExchangeRate", f"{st.fx.get(ccy, 1.0):.6f}", ccy))
    values.append(("CashBalance", f"{total_cash:.2f}", "BASE"))
    return values


def day_positions(s: Session) -> list[Position]:
    """The day's portfolio as IB reports it: every open position, and each position closed
    today as quantity 0 (so a client's cached portfolio hears that it is gone)."""
    held = list(s.state.positions)
    still = {p.conId for p in held}
    closed = sorted(s.server.broker.closed_today - still)
    return held + [Position(con_id, 0.0, 0.0) for con_id in closed]


def send_account(s: Session) -> None:
    st = s.state
    for key, value, ccy in account_values(st):
        s.send(Out.ACCOUNT_VALUE, 2, key, value, ccy, st.account)
    for p in day_positions(s):
        instrument = st.instrument(p.conId)
        if instrument is None:
            continue
        worth = p.quantity * instrument.price * float(instrument.multiplier or 1)
        s.send(
            Out.PORTFOLIO_VALUE,
            8,
            *instrument.contract_fields(instrument.primaryExchange),
            p.quantity,
            instrument.price,
            round(worth, 2),
            p.averageCost,
            round(worth - p.quantity * p.averageCost, 2),
            0.0,
            st.account,
        )
    s.send(Out.ACCOUNT_TIME, 1, clock.now(s.state).strftime("%H:%M"))


def send_position(s: Session, con_id: int) -> None:
    st = s.state
    instrument = st.instrument(con_id)
    position = next((p for p in st.positions if p.conId == con_id), None)
    if instrument is not None:
        quantity, cost = (position.quantity, position.averageCost) if position else (0.0, 0.0)
        s.send(Out.POSITION, 3, st.account, *instrument.contract_fields(), quantity, cost)
