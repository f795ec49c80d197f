"""Reading a placeOrder request, field by field, the way ib_async writes it."""

from __future__ import annotations

from collections.abc import Iterator

from simulator.protocol import ProtocolError

CONTRACT_FIELDS = (
    "conId",
    "symbol",
    "secType",
    "lastTradeDateOrContractMonth",
    "strike",
    "right",
    "multiplier",
    "exchange",
    "primaryExchange",
    "currency",
    "localSymbol",
    "tradingClass",
)


class Fields:
    """A cursor over a request's fields."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self._it: Iterator[str] = iter(fields[start:])

    def next(self) -> str:
        try:
            return next(self._it)
        except StopIteration:
            raise ProtocolError("request ended early") from None

    def skip(self, n: int) -> None:
        for _ in range(n):
            self.next()

    def contract(self) -> dict[str, str]:
        return {name: self.next() for name in CONTRACT_FIELDS}


def _set(value: str) -> bool:
    return value not in ("", "0", "1.7976931348623157e+308", "1.7976931348623157E308")


def parse_place_order(fields: list[str]) -> dict:
    """The parts of a placeOrder (server version 176) the simulator acts on."""
    f = Fields(fields)
    order: dict = {"orderId": int(f.next()), "contract": f.contract()}
    f.skip(2)  # secIdType, secId
    order["action"] = f.next()
    order["totalQuantity"] = float(f.next() or 0)
    order["orderType"] = f.next()
    lmt = f.next()
    order["lmtPrice"] = float(lmt) if lmt else None
    f.next()  # auxPrice
    order["tif"] = f.next()
    f.next()  # ocaGroup
    order["account"] = f.next()
    f.skip(2)  # openClose, origin
    order["orderRef"] = f.next()
    f.skip(8)  # transmit .. hidden
    if order["contract"]["secType"] == "BAG":
        raise ProtocolError("combo (BAG) orders are not simulated")
    f.skip(2)  # "", discretionaryAmt
    order["goodAfterTime"] = f.next()
    f.skip(5)  # goodTillDate, faGroup, faMethod, faPercentage, faProfile
    f.skip(22)  # modelCode .. volatilityType
    if f.next():  # deltaNeutralOrderType
        f.skip(9)
    else:
        f.skip(1)
    f.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    if _set(f.next()):  # scalePriceIncrement
        f.skip(7)
    f.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if f.next():  # hedgeType
        f.skip(1)
    f.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if f.next() == "1":  # delta-neutral contract
        f.skip(3)
    order["algoStrategy"] = f.next()
    order["algoParams"] = []
    if order["algoStrategy"]:
        for _ in range(int(f.next() or 0)):
            order["algoParams"].append((f.next(), f.next()))
    f.next()  # algoId
    order["whatIf"] = f.next() == "1"
    return order
