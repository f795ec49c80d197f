"""Orders, fills and their effect on positions and cash."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulator import clock, close_orders, hours
from simulator.instruments import Instrument, Position
from simulator.market import Market
from simulator.state import State

WORKING = ("PreSubmitted", "Submitted")


@dataclass
class Order:
    orderId: int
    clientId: int
    permId: int
    instrument: Instrument
    action: str
    totalQuantity: float
    orderType: str
    lmtPrice: float | None = None
    tif: str = "DAY"
    orderRef: str = ""
    goodAfterTime: str = ""
    account: str = ""
    algoStrategy: str = ""
    algoParams: list[tuple[str, str]] = field(default_factory=list)
    status: str = "PreSubmitted"
    filled: float = 0.0
    avgFillPrice: float = 0.0
    lastFillPrice: float = 0.0
    completedTime: str = ""
    closesAt: str = ""  # MOC/LOC: the session close it is for (ISO 8601)


@dataclass
class Execution:
    execId: str
    orderId: int
    permId: int
    clientId: int
    instrument: Instrument
    account: str
    side: str
    shares: float
    price: float
    cumQty: float
    avgPrice: float
    orderRef: str
    time: datetime
    commission: float
    commissionCurrency: str
    realizedPnL: float


class OrderError(ValueError):
    """An order the broker refuses: (code, message) as IB sends them."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def commission_for(instrument: Instrument, shares: float, price: float) -> float:
    if instrument.secType == "FUT":
        return round(2.25 * shares, 2)
    if instrument.secType == "CASH":
        return round(max(2.0, shares * price * 0.00002), 2)
    return round(max(1.0, 0.005 * shares), 2)


class Broker:
    """Accepts orders, fills them against the market and books the results in the state."""

    def __init__(self, state: State, market: Market) -> None:
        self.state = state
        self.market = market
        self.orders: dict[tuple[int, int], Order] = {}  # (clientId, orderId) -> order
        self.executions: list[Execution] = []
        # Positions closed today: IB keeps them in the day's portfolio and reports them as 0.
        self.closed_today: set[int] = set()
        self._perm_ids = itertools.count(1_000_001)
        self._exec_ids = itertools.count(1)

    def resume(self, last_perm_id: int, executions: int) -> None:
        """Continue numbering after restored orders and executions."""
        self._perm_ids = itertools.count(last_perm_id + 1)
        self._exec_ids = itertools.count(executions + 1)

    def place(self, order: Order) -> Order:
        """Accept (or amend) an order; fill it now if it is marketable."""
        if not order.totalQuantity > 0 or math.isinf(order.totalQuantity):  # NaN too
            raise OrderError(434, "The order size cannot be zero.")
        try:
            close = close_orders.check(
                order.orderType,
                order.tif,
                order.lmtPrice,
                order.instrument,
                clock.now(self.state),
                self.state.calendar,
            )
        except close_orders.Refused as exc:
            raise OrderError(exc.code, str(exc)) from None
        order.closesAt = close.isoformat() if close else ""
        existing = self.orders.get((order.clientId, order.orderId))
        if existing is not None:  # a modification: IB keeps what filled, and a done order stays
            if existing.status not in WORKING:
                raise OrderError(104, f"Can't modify a {existing.status.lower()} order")
            order.filled, order.avgFillPrice = existing.filled, existing.avgFillPrice
            order.lastFillPrice = existing.lastFillPrice
        order.permId = existing.permId if existing else next(self._perm_ids)
        order.account = order.account or self.state.account
        order.status = "Submitted"
        self.orders[(order.clientId, order.orderId)] = order
        self.state.next_order_id = max(self.state.next_order_id, order.orderId + 1)
        if not self._in_session(order.instrument):
            order.status = "PreSubmitted"  # held, as IB holds a DAY order, until the open
            return order
        self.try_fill(order)  # a close order waits for its close (at_close)
        return order

    def _in_session(self, instrument: Instrument) -> bool:
        """Only once the clock is set do hours hold orders back (see simulator/clock.py)."""
        return not self.state.calendar or hours.is_open(instrument, clock.now(self.state))

    def release(self) -> list[tuple[Order, Execution]]:
        """The held orders whose market is open now, filled (after the clock moved)."""
        fills = []
        for order in self.orders.values():
            if order.status == "PreSubmitted" and self._in_session(order.instrument):
                order.status = "Submitted"
                if (execution := self.try_fill(order)) is not None:
                    fills.append((order, execution))
        return fills

    def at_close(self) -> list[tuple[Order, Execution | None]]:
        """MOC/LOC orders whose close the clock has passed: filled at the close price (LOC only
        when the close is at or better than its limit), else cancelled at the close."""
        now = clock.now(self.state)
        done: list[tuple[Order, Execution | None]] = []
        closing: dict[tuple[int, str], float] = {}
        for order in list(self.orders.values()):
            if order.status not in WORKING or not order.closesAt:
                continue
            close = datetime.fromisoformat(order.closesAt)
            if now < close:
                continue
            key = (order.instrument.conId, order.closesAt)
            if key not in closing:  # one closing price per instrument and close
                self.market.step(order.instrument)
                closing[key] = round(order.instrument.price, 2)
            price = closing[key]
            if close_orders.fills_at_close(order.orderType, order.action, order.lmtPrice, price):
                shares = order.totalQuantity - order.filled
                done.append((order, self._fill(order, shares, price, at=close)))
            else:
                order.status = "Cancelled"
                order.completedTime = close.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")
                done.append((order, None))
        return done

    def crossed(self, instrument: Instrument) -> list[tuple[Order, Execution]]:
        """Working limit orders on `instrument` that the quote (as it is now) has reached."""
        bid, ask = self.market.bid_ask(instrument)
        fills = []
        for order in list(self.orders.values()):
            if (
                order.status == "Submitted"
                and order.orderType == "LMT"
                and order.instrument.conId == instrument.conId
                and order.lmtPrice
                and close_orders.crosses(order.action, order.lmtPrice, bid, ask)
            ):
                price = ask if order.action == "BUY" else bid
                fills.append((order, self._fill(order, order.totalQuantity - order.filled, price)))
        return fills

    def try_fill(self, order: Order) -> Execution | None:
        if order.status not in WORKING or order.orderType in close_orders.AT_CLOSE:
            return None
        self.market.step(order.instrument)
        bid, ask = self.market.bid_ask(order.instrument)
        price = ask if order.action == "BUY" else bid  # a marketable limit: the better price
        if order.orderType == "LMT" and not (
            order.lmtPrice and close_orders.crosses(order.action, order.lmtPrice, bid, ask)
        ):
            return None
        shares = order.totalQuantity - order.filled
        fraction = self.state.faults.partial_fill
        if fraction is not None and order.orderType == "MKT" and not order.filled:
            shares = math.floor(shares * fraction)
            if shares <= 0:
                return None
        return self._fill(order, shares, price)

    def _fill(
        self, order: Order, shares: float, price: float, at: datetime | None = None
    ) -> Execution:
        instrument, signed = order.instrument, shares if order.action == "BUY" else -shares
        realized = self._book_position(instrument, signed, price)
        commission = commission_for(instrument, shares, price)
        self._book_cash(instrument, signed, price, commission, realized)
        order.avgFillPrice = (order.avgFillPrice * order.filled + price * shares) / (
            order.filled + shares
        )
        order.filled += shares
        order.lastFillPrice = price
        now = (at or clock.now(self.state)).astimezone(UTC)
        if order.filled >= order.totalQuantity:
            order.status = "Filled"
            order.completedTime = now.strftime("%Y%m%d %H:%M:%S UTC")
        execution = Execution(
            execId=f"0000e0d5.{next(self._exec_ids):08x}.01.01",
            orderId=order.orderId,
            permId=order.permId,
            clientId=order.clientId,
            instrument=instrument,
            account=order.account,
            side="BOT" if signed > 0 else "SLD",
            shares=shares,
            price=price,
            cumQty=order.filled,
            avgPrice=order.avgFillPrice,
            orderRef=order.orderRef,
            time=now,
            commission=commission,
            commissionCurrency=self.state.base_currency,
            realizedPnL=round(realized - commission if realized else 0, 2),
        )
        self.executions.append(execution)
        return execution

    def _book_position(self, instrument: Instrument, signed: float, price: float) -> float:
        """Update the position; returns the realized P&L of the part that was closed."""
        multiplier = float(instrument.multiplier or 1)
        position = next((p for p in self.state.positions if p.conId == instrument.conId), None)
        if instrument.secType == "CASH":
            return 0.0
        if position is None:
            self.state.positions.append(Position(instrument.conId, signed, price * multiplier))
            self.closed_today.discard(instrument.conId)
            return 0.0
        realized = 0.0
        old = position.quantity
        if old * signed < 0:  # reducing or flipping
            closed = min(abs(old), abs(signed)) * (1 if old > 0 else -1)
            realized = closed * (price * multiplier - position.averageCost)
        new = old + signed
        if new == 0:
            self.state.positions.remove(position)
            self.closed_today.add(instrument.conId)
        elif old * new < 0 or abs(new) > abs(old):  # flipped or increased
            if old * new > 0:
                position.averageCost = (
                    position.averageCost * old + price * multiplier * signed
                ) / new
            else:
                position.averageCost = price * multiplier
            position.quantity = new
        else:
            position.quantity = new
        return realized

    def _book_cash(
        self,
        instrument: Instrument,
        signed: float,
        price: float,
        commission: float,
        realized: float,
    ) -> None:
        cash = self.state.cash
        base = self.state.base_currency
        if instrument.secType == "CASH":  # EUR.USD: +EUR, -USD
            cash[instrument.symbol] = cash.get(instrument.symbol, 0.0) + signed
            cash[instrument.currency] = cash.get(instrument.currency, 0.0) - signed * price
        elif instrument.secType == "FUT":  # futures settle their P&L, not their notional
            cash[instrument.currency] = cash.get(instrument.currency, 0.0) + realized
        else:
            multiplier = float(instrument.multiplier or 1)
            cash[instrument.currency] = (
                cash.get(instrument.currency, 0.0) - signed * price * multiplier
            )
        cash[base] = cash.get(base, 0.0) - commission

    def cancel(self, client_id: int, order_id: int) -> Order:
        """Cancel a working order; order ids belong to the client that placed the order."""
        order = self.orders.get((client_id, order_id))
        if order is None or order.status not in WORKING:
            raise OrderError(
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be "
                "cancelled, state: " + (order.status if order else "unknown"),
            )
        order.status = "Cancelled"
        order.completedTime = clock.now(self.state).strftime("%Y%m%d %H:%M:%S UTC")
        return order

    def working(self, client_id: int | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.status in WORKING and (client_id is None or o.clientId == client_id)
        ]

    def completed(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status in ("Filled", "Cancelled")]
