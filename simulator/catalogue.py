"""Contract lookup: the state's instruments first, then any plausible US stock or ETF symbol and
the forex pairs between major currencies, made up on request.

A made-up instrument's conId, primary exchange and price follow from its symbol alone, so they
are the same across restarts and seeds, and its conId encodes the symbol: a lookup by conId
(a worker's holdings, a restored order) finds it again in a fresh process. What does not look
like a US stock or a listed pair gets IB's own answers: 321 for a request IB refuses to
validate (no security type, no exchange where one is needed), 200 for no such security.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Protocol

from simulator.instruments import Instrument
from simulator.market import matches

NO_SECURITY = (200, "No security definition has been found for the request")
STOCK_SYMBOL = re.compile(r"([A-Z]{1,5})(?:[. ]([A-Z]))?")
US_EXCHANGES = frozenset(
    {"SMART", "ARCA", "NASDAQ", "NYSE", "AMEX", "BATS", "IEX", "ISLAND", "ARCAEDGE", "BYX"}
)
PRIMARY_EXCHANGES = ("NASDAQ", "NYSE", "ARCA")
# A pair is listed as A.B when A comes before B here (EUR.USD, USD.CHF, never USD.EUR): IB's
# quoting convention, which cash-balancer relies on when it tries both directions.
CURRENCIES = (
    "EUR",
    "GBP",
    "AUD",
    "NZD",
    "USD",
    "CAD",
    "CHF",
    "JPY",
    "SEK",
    "NOK",
    "DKK",
    "HKD",
    "SGD",
)
USD_PER_UNIT = {
    "EUR": 1.08,
    "GBP": 1.27,
    "AUD": 0.66,
    "NZD": 0.60,
    "USD": 1.0,
    "CAD": 0.73,
    "CHF": 1.12,
    "JPY": 0.0067,
    "SEK": 0.095,
    "NOK": 0.093,
    "DKK": 0.145,
    "HKD": 0.128,
    "SGD": 0.74,
}
STOCK_BASE = 1_000_000_000  # + the symbol's code: at most 27**6 - 1, below FOREX_BASE
FOREX_BASE = 1_900_000_000  # + 100 x index of the base currency + index of the quote
SEC_TYPES = frozenset({"STK", "CASH", "FUT", "IND"})
PRICE_RANGE = (10.0, 500.0)


class Book(Protocol):
    """The instruments a lookup searches and adds to: the simulator's `State` (typed here by
    shape, so that the state can use this module's `by_con_id` without an import circle)."""

    instruments: list[Instrument]

    def instrument(self, con_id: int) -> Instrument | None: ...

    def add(self, instrument: Instrument) -> Instrument: ...


@dataclass(frozen=True)
class Refused:
    """An IB error code and message for a contract the request cannot use."""

    code: int
    message: str


def _code(letters: str) -> int:
    value = 0
    for ch in letters:
        value = value * 27 + (ord(ch) - 64)
    return value


def _letters(value: int) -> str | None:
    out = []
    while value:
        value, digit = divmod(value, 27)
        if not digit:
            return None
        out.append(chr(64 + digit))
    return "".join(reversed(out)) or None


def stock_con_id(symbol: str) -> int | None:
    """The conId of a made-up stock: the symbol's letters in base 27, plus its class letter."""
    match = STOCK_SYMBOL.fullmatch(symbol)
    if not match:
        return None
    root, share_class = match[1], match[2] or ""
    return STOCK_BASE + _code(root) * 27 + (_code(share_class) if share_class else 0)


def _unit(text: str) -> float:
    """A number in [0, 1) that follows from `text` alone."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def stock(symbol: str) -> Instrument | None:
    """The made-up stock or ETF for a plausible US symbol (`BRK.B` and `BRK B` are one)."""
    con_id = stock_con_id(symbol)
    if con_id is None:
        return None
    match = STOCK_SYMBOL.fullmatch(symbol)
    assert match is not None
    name = match[1] + (f" {match[2]}" if match[2] else "")
    low, high = PRICE_RANGE
    price = round(math.exp(math.log(low) + _unit(f"price:{name}") * math.log(high / low)), 2)
    primary = PRIMARY_EXCHANGES[int(_unit(f"exchange:{name}") * len(PRIMARY_EXCHANGES))]
    return Instrument(con_id, name, "STK", "SMART", primary, "USD", name, name, price=price)


def forex(base: str, quote: str) -> Instrument | None:
    """The pair `base.quote` when IB lists it that way round."""
    if base not in CURRENCIES or quote not in CURRENCIES:
        return None
    i, j = CURRENCIES.index(base), CURRENCIES.index(quote)
    if i >= j:
        return None
    pair = f"{base}.{quote}"
    price = round(USD_PER_UNIT[base] / USD_PER_UNIT[quote], 5)
    return Instrument(
        FOREX_BASE + 100 * i + j, base, "CASH", "IDEALPRO", "", quote, pair, pair, price=price
    )


def by_con_id(con_id: int) -> Instrument | None:
    """The made-up instrument a conId encodes, if it encodes one."""
    if FOREX_BASE <= con_id < FOREX_BASE + 100 * len(CURRENCIES):
        i, j = divmod(con_id - FOREX_BASE, 100)
        if j < len(CURRENCIES):
            return forex(CURRENCIES[i], CURRENCIES[j])
        return None
    if STOCK_BASE <= con_id < FOREX_BASE:
        root, share_class = divmod(con_id - STOCK_BASE, 27)
        letters = _letters(root)
        if letters is None or len(letters) > 5:
            return None
        symbol = letters + (f".{chr(64 + share_class)}" if share_class else "")
        found = stock(symbol)
        return found if found is not None and found.conId == con_id else None
    return None


def _made_up(want: dict[str, str]) -> Instrument | None:
    """The instrument a request describes, if it is a plausible stock or listed pair."""
    sec_type, exchange = want.get("secType", ""), want.get("exchange", "")
    symbol, currency = want.get("symbol", "").strip(), want.get("currency", "")
    local = want.get("localSymbol", "").replace(" ", "")
    if sec_type == "STK":
        if currency not in ("", "USD") or (exchange and exchange not in US_EXCHANGES):
            return None
        found = stock(local or symbol)
        primary = want.get("primaryExchange", "")
        if found is not None and primary and primary != found.primaryExchange:
            return None
        return found
    if sec_type == "CASH":
        if exchange not in ("", "IDEALPRO"):
            return None
        if local:
            base, _, quote = local.partition(".")
            if (symbol and symbol != base) or (currency and currency != quote):
                return None
            return forex(base, quote)
        return forex(symbol, currency)
    return None


def _validation(want: dict[str, str], needs_exchange: bool) -> Refused | None:
    if want.get("conId") not in (None, "", "0"):
        return None
    if not want.get("symbol") and not want.get("localSymbol"):
        return Refused(321, "Error validating request.-'bM' : cause - Missing symbol")
    if want.get("secType", "") not in SEC_TYPES | {"OPT", "FOP", "CFD", "BOND", "WAR", "CMDTY"}:
        return Refused(321, "Error validating request.-'bL' : cause - Invalid security type")
    if needs_exchange and not want.get("exchange"):
        return Refused(321, "Error validating request.-'bW' : cause - Please enter exchange")
    return None


def find(state: Book, want: dict[str, str], *, needs_exchange: bool = True) -> list[Instrument]:
    """The instruments a request's contract fits: the state's, else a made-up one (which joins
    the state, so its price walks from then on). Raises RefusedContract with IB's code."""
    refused = _validation(want, needs_exchange)
    if refused is not None:
        raise RefusedContract(refused)
    found = [i for i in state.instruments if matches(i, want)]
    if found:
        return found
    if want.get("conId") not in (None, "", "0"):
        made = state.instrument(int(want["conId"]))
        if made is None:
            raise RefusedContract(Refused(*NO_SECURITY))
        return [made]
    if want.get("secType") == "STK" and want.get("exchange") in US_EXCHANGES:
        # Any US exchange names the same stock: SPY on ARCA is the state's SPY.
        found = [i for i in state.instruments if matches(i, {**want, "exchange": ""})]
        if found:
            return found
    made = _made_up(want)
    if made is None:
        raise RefusedContract(Refused(*NO_SECURITY))
    return [state.add(made)]


class RefusedContract(ValueError):
    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.message)
        self.code = refused.code
        self.message = refused.message


def find_one(state: Book, want: dict[str, str]) -> Instrument:
    """The one instrument a request's contract names (historical data, an order); none or
    several is IB's 200, like a refused contract (RefusedContract)."""
    found = find(state, want)
    if len(found) != 1:
        raise RefusedContract(Refused(*NO_SECURITY))
    return found[0]
