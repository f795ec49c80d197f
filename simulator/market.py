"""Instruments and prices: the default catalogue, contract lookup and a seeded random walk."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from simulator.instruments import Instrument

FUTURE_MONTHS = {3: "H", 6: "M", 9: "U", 12: "Z"}
EXCHANGE_ALIASES = {"GLOBEX": "CME", "CME": "CME"}


def quarterly_expiries(today: date, count: int = 2) -> list[date]:
    """The next `count` quarterly expiries: third Friday of Mar, Jun, Sep, Dec."""
    found: list[date] = []
    year, month = today.year, today.month
    while len(found) < count:
        if month in FUTURE_MONTHS:
            first = date(year, month, 1)
            friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
            if friday >= today:
                found.append(friday)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return found


def default_instruments(today: date | None = None) -> list[Instrument]:
    today = today or date.today()
    items = [
        Instrument(756733, "SPY", price=550.0),
        Instrument(320227571, "QQQ", primaryExchange="NASDAQ", price=480.0),
        Instrument(15547841, "TLT", primaryExchange="NASDAQ", price=92.0),
        Instrument(265598, "AAPL", primaryExchange="NASDAQ", price=225.0),
        Instrument(
            12087792, "EUR", "CASH", "IDEALPRO", "", "USD", "EUR.USD", "EUR.USD", price=1.08
        ),
        Instrument(
            12087797, "GBP", "CASH", "IDEALPRO", "", "USD", "GBP.USD", "GBP.USD", price=1.27
        ),
        Instrument(
            12087820, "USD", "CASH", "IDEALPRO", "", "CHF", "USD.CHF", "USD.CHF", price=0.89
        ),
        Instrument(416904, "SPX", "IND", "CBOE", "", "USD", "SPX", "SPX", price=5600.0),
    ]
    for symbol, base_id, multiplier, price in (
        ("ES", 600_000_000, "50", 5600.0),
        ("MNQ", 700_000_000, "2", 20000.0),
    ):
        for expiry in quarterly_expiries(today):
            code = f"{symbol}{FUTURE_MONTHS[expiry.month]}{expiry.year % 10}"
            items.append(
                Instrument(
                    base_id + expiry.year * 100 + expiry.month,
                    symbol,
                    "FUT",
                    "CME",
                    "",
                    "USD",
                    code,
                    symbol,
                    multiplier,
                    expiry.strftime("%Y%m%d"),
                    price,
                )
            )
    return items


def matches(instrument: Instrument, want: dict[str, str]) -> bool:
    """Does the instrument fit the (partial) contract of a request?"""
    if want.get("conId") not in (None, "", "0"):
        return str(instrument.conId) == want["conId"]
    if want.get("localSymbol"):
        if want["localSymbol"].replace(" ", "") != instrument.localSymbol.replace(" ", ""):
            return False
    elif want.get("symbol", "") != instrument.symbol:
        return False
    if want.get("secType") and want["secType"] != instrument.secType:
        return False
    if want.get("currency") and want["currency"] != instrument.currency:
        return False
    exchange = want.get("exchange", "")
    if exchange not in ("", "SMART") and EXCHANGE_ALIASES.get(exchange, exchange) != (
        instrument.exchange
    ):
        return False
    expiry = want.get("lastTradeDateOrContractMonth", "")
    return not expiry or instrument.lastTradeDateOrContractMonth.startswith(expiry)


class Market:
    """Quotes that follow a seeded random walk, one step per quote request."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._anchors: dict[int, float] = {}  # first price seen: history does not drift with it
        self.frozen: Callable[[], bool] = lambda: False  # prices stand still while True
        self._traded_at: dict[int, datetime] = {}  # the last trade's time (simulator clock)

    def anchor(self, instrument: Instrument) -> float:
        """The first price seen: where history ends, however far the quotes walked since."""
        return self._anchors.setdefault(instrument.conId, instrument.price)

    def step(self, instrument: Instrument) -> None:
        self._anchors.setdefault(instrument.conId, instrument.price)
        if self.frozen():
            return
        instrument.price = round(instrument.price * (1 + self._rng.gauss(0, 0.001)), 6)

    def traded(self, instrument: Instrument, now: datetime, halted: bool = False) -> datetime:
        """The last trade's time (IB's tick 45): `now` while the instrument trades; a halted one
        keeps the time of its last trade (its first quote, if it never traded before)."""
        if not halted or instrument.conId not in self._traded_at:
            self._traded_at[instrument.conId] = now
        return self._traded_at[instrument.conId]

    @staticmethod
    def spread(instrument: Instrument) -> float:
        return instrument.price * (0.00005 if instrument.secType == "CASH" else 0.0002)

    def bid_ask(self, instrument: Instrument) -> tuple[float, float]:
        half = self.spread(instrument) / 2
        digits = 5 if instrument.secType == "CASH" else 2
        return round(instrument.price - half, digits), round(instrument.price + half, digits)

    def daily_bars(self, instrument: Instrument, days: int, end: date) -> list[tuple]:
        """(date, open, high, low, close, volume) for `days` weekdays ending at `end`,
        the same for the same seed, instrument and end date."""
        rng = random.Random(f"{self.seed}-{instrument.conId}-{end.isoformat()}")
        dates: list[date] = []
        day = end
        while len(dates) < days:
            if day.weekday() < 5:
                dates.append(day)
            day -= timedelta(days=1)
        close = self._anchors.setdefault(instrument.conId, instrument.price)
        bars = []
        for day in dates:  # newest first, walking back in time
            open_ = close * (1 + rng.gauss(0, 0.004))
            high = max(open_, close) * (1 + abs(rng.gauss(0, 0.003)))
            low = min(open_, close) * (1 - abs(rng.gauss(0, 0.003)))
            bars.append(
                (
                    day,
                    round(open_, 4),
                    round(high, 4),
                    round(low, 4),
                    round(close, 4),
                    rng.randint(100_000, 5_000_000),
                )
            )
            close = open_ * (1 + rng.gauss(0, 0.008))
        return list(reversed(bars))
