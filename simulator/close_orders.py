"""Order types the broker checks before it accepts an order, and orders at the close.

MOC and LOC are DAY orders for one session's close: they are refused from the exchange's cut-off
on (NYSE/NASDAQ: 15:50 ET, ten minutes before an early close; `CUTOFF_BEFORE_CLOSE` before the
close for every calendar here), stay working until the simulated clock passes that close, then
MOC fills at the close price and LOC fills only when the close is at or better than its limit,
else IB cancels it at the close."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from simulator import hours
from simulator.instruments import Instrument

ORDER_TYPES = ("MKT", "LMT", "MOC", "LOC")
AT_CLOSE = ("MOC", "LOC")
CLOSE_ORDER_SEC_TYPES = ("STK",)  # IB lists MOC and LOC for stocks, not for forex
CUTOFF_BEFORE_CLOSE = timedelta(minutes=10)
STAMP = "%Y%m%d %H:%M:%S %Z"


class Refused(ValueError):
    """(code, message) as IB sends a refused order."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def sessions(
    instrument: Instrument, now: datetime, calendar: bool
) -> list[tuple[datetime, datetime]]:
    """The regular sessions (start, end) the contract details list around `now`."""
    zone_name, _, liquid = hours.contract_hours(instrument, now, calendar)
    zone = ZoneInfo(zone_name)
    found = []
    for part in liquid.split(";"):
        if not part or part.endswith("CLOSED"):
            continue
        begin, end = part.split("-")
        found.append(
            (
                datetime.strptime(begin, "%Y%m%d:%H%M").replace(tzinfo=zone),
                datetime.strptime(end, "%Y%m%d:%H%M").replace(tzinfo=zone),
            )
        )
    return sorted(found)


def close_for(instrument: Instrument, now: datetime, calendar: bool) -> datetime | None:
    """The close a MOC/LOC order sent at `now` is for: the open session's, else the next
    session's (an order sent before the open waits for that day's close)."""
    return next((end for start, end in sessions(instrument, now, calendar) if now < end), None)


def check(
    order_type: str,
    tif: str,
    limit: float | None,
    instrument: Instrument,
    now: datetime,
    calendar: bool,
) -> datetime | None:
    """Refused for an order IB would refuse; for a close order, the close it is for."""
    if order_type not in ORDER_TYPES:
        raise Refused(
            387, f"Unsupported order type {order_type} (simulator: {', '.join(ORDER_TYPES)})"
        )
    if order_type in ("LMT", "LOC") and not limit:
        raise Refused(320, f"Limit price missing for {order_type} order")
    if order_type not in AT_CLOSE:
        return None
    if instrument.secType not in CLOSE_ORDER_SEC_TYPES:
        raise Refused(387, f"Unsupported order type {order_type} for {instrument.secType}")
    if tif != "DAY":
        raise Refused(387, f"{order_type} orders must be DAY orders, not {tif or 'no tif'}")
    close = close_for(instrument, now, calendar)
    if close is None:
        raise Refused(201, f"Order rejected - reason:no session close for {order_type}")
    if calendar and close - CUTOFF_BEFORE_CLOSE <= now < close:
        cutoff = (close - CUTOFF_BEFORE_CLOSE).strftime("%H:%M")
        raise Refused(
            201,
            f"Order rejected - reason:{order_type} orders must be submitted before {cutoff} "
            f"{close.tzname()}",
        )
    return close


def listed(sec_type: str) -> str:
    """ContractDetails.orderTypes as IB sends them (comma separated, alphabetical), narrowed to
    what this broker executes: for a stock on NYSE/NASDAQ IB lists, among many, ALGO (the
    Adaptive algo on a MKT order), LMT, LOC, MKT and MOC; for others LMT and MKT."""
    types = {t for t in ORDER_TYPES if t not in AT_CLOSE or sec_type in CLOSE_ORDER_SEC_TYPES}
    return ",".join(sorted(types | ({"ALGO"} if sec_type == "STK" else set())))


def fills_at_close(order_type: str, action: str, limit: float | None, close: float) -> bool:
    """Whether a close order fills at the closing price `close`: MOC always; LOC when the close
    is at or better than its limit."""
    if order_type == "MOC":
        return True
    assert limit is not None
    return close <= limit if action == "BUY" else close >= limit


def crosses(action: str, limit: float, bid: float, ask: float) -> bool:
    """A limit order fills when the market reaches its limit (a buy's limit at or above the
    ask, a sell's at or below the bid)."""
    return limit >= ask if action == "BUY" else limit <= bid
