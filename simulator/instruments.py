"""The broker's instruments and positions: the records the state, the market and the catalogue
share (a leaf: it imports nothing of the simulator)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Instrument:
    conId: int
    symbol: str
    secType: str = "STK"
    exchange: str = "SMART"
    primaryExchange: str = "ARCA"
    currency: str = "USD"
    localSymbol: str = ""
    tradingClass: str = ""
    multiplier: str = ""
    lastTradeDateOrContractMonth: str = ""
    price: float = 100.0
    longName: str = ""

    def contract_fields(self, exchange: str | None = None) -> list[object]:
        """conId .. tradingClass, as positions and portfolio messages carry them."""
        return [
            self.conId,
            self.symbol,
            self.secType,
            self.lastTradeDateOrContractMonth,
            0.0,
            "",
            self.multiplier,
            exchange if exchange is not None else self.exchange,
            self.currency,
            self.localSymbol or self.symbol,
            self.tradingClass or self.symbol,
        ]


@dataclass
class Position:
    conId: int
    quantity: float
    averageCost: float
