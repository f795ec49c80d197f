"""Contracts from config, prices and exchange rates from the gateway."""

from __future__ import annotations

import math
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading.price_age import DATA_TYPES, DELAYED, Observed, Source

CONTRACT_FIELDS = (
    "symbol",
    "secType",
    "exchange",
    "currency",
    "primaryExchange",
    "lastTradeDateOrContractMonth",
    "localSymbol",
    "multiplier",
    "conId",
)


def contracts(ib: Any, instruments: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Qualified ib_async contracts for `config.instruments` keys; unknown ones are named."""
    import ib_async

    missing = [k for k in keys if k not in instruments]
    if missing:
        raise IntentFailed(
            "config-missing",
            f"config.instruments.{sorted(missing)[0]} is missing: set it in config.yaml and run "
            "`python -m publisher config apply`",
        )
    wanted = {
        k: ib_async.Contract(**{f: v for f, v in instruments[k].items() if f in CONTRACT_FIELDS})
        for k in keys
    }
    qualified = ib.qualifyContracts(*wanted.values())
    unknown = [k for k, c in wanted.items() if not c.conId]
    if unknown or len(qualified) != len(wanted):
        raise IntentFailed(
            "unknown-contract", f"the gateway does not know {', '.join(sorted(unknown))}"
        )
    return wanted


def by_con_id(ib: Any, con_ids: list[int]) -> dict[int, Any]:
    """Qualified contracts for conIds (of holdings); unknown ones are named."""
    import ib_async

    if not con_ids:
        return {}
    found = {
        c.conId: c for c in ib.qualifyContracts(*(ib_async.Contract(conId=i) for i in con_ids))
    }
    if unknown := sorted(set(con_ids) - set(found)):
        raise IntentFailed(
            "unknown-contract", f"the gateway does not know conId {', '.join(map(str, unknown))}"
        )
    return found


MARKET_DATA_TYPES = {"live": 1, "frozen": 2, "delayed": 3, "delayed-frozen": 4}
SUBSCRIBE = (
    "subscribe to its market data for the API in IB's Client Portal (Settings, Market Data "
    "Subscriptions"
)
# IB's market-data permission errors: no retry brings the data, a subscription or config does.
PERMISSION_ADVICE = {
    354: f"live data is not subscribed: {SUBSCRIBE}), or set config.marketDataType to delayed",
    10089: f"the data needs an additional subscription for the API: {SUBSCRIBE})",
    10090: f"part of the data is not subscribed: {SUBSCRIBE})",
    10167: f"live data is not subscribed (IB offered delayed data): {SUBSCRIBE}), or set "
    "config.marketDataType to delayed to accept delayed prices",
    10168: f"live data is not subscribed and delayed data is not enabled: {SUBSCRIBE})",
}


def request_data_type(ib: Any, config: dict[str, Any]) -> str:
    """Ask the gateway for `config.marketDataType` (default live) before any price is requested:
    the type stays with the connection, which later intents (or the other config) reuse."""
    name = config.get("marketDataType") or "live"
    ib.reqMarketDataType(MARKET_DATA_TYPES[name])
    return name


def permission_problem(refused: dict[str, tuple[int, str]]) -> str | None:
    """One message naming each instrument whose data IB refused for want of a permission, and what
    to subscribe to or configure; None when nothing was refused. `refused`: name -> (code, text)."""
    if not refused:
        return None
    return "; ".join(
        f"{name}: IB error {code} ({PERMISSION_ADVICE[code]})"
        for name, (code, _) in sorted(refused.items())
    )


def price_type(ticker: Any, closed: bool) -> str:
    """Which price `prices` took (`closed`: it fell back to the close) and of which market data
    type, e.g. `delayed midpoint`: ib_async's marketPrice is the last price when it lies within
    the bid and ask (or there is none), else the midpoint."""
    seen = observed(ticker, closed)
    return f"{seen.data_type} {seen.source}"


def observed(ticker: Any, closed: bool) -> Observed:
    """What `price_age` decides on: the type IB sent, which price was taken, IB's trade time."""
    kind = DATA_TYPES.get(ticker.marketDataType, "live")
    within = ticker.bid <= ticker.last <= ticker.ask
    source: Source = (
        "close" if closed else "midpoint" if ticker.hasBidAsk() and not within else "last"
    )
    at = ticker.delayedLastTimestamp if kind in DELAYED else ticker.lastTimestamp
    contract = ticker.contract
    name = (contract.localSymbol or contract.symbol) if contract is not None else "?"
    return Observed(name, kind, source, at, ticker.hasBidAsk())


def prices(
    ib: Any,
    contracts_: list[Any],
    sized_on: dict[int, str] | None = None,
    seen: list[Observed] | None = None,
) -> dict[int, float]:
    """conId -> a price to size orders with (ib_async's marketPrice, else the close);
    `sized_on`, when given, gets conId -> the price's type (`price_type`), and `seen` each
    price as `price_age` judges it (`worker/trading/stale_guard.py` decides once the plan is
    made). A market-data permission error fails at once (`market-data-permission`, not
    retryable), naming each instrument."""
    refused: dict[str, tuple[int, str]] = {}

    def on_error(req_id: int, code: int, text: str, contract: Any = None) -> None:
        if code in PERMISSION_ADVICE:
            name = (contract.localSymbol or contract.symbol) if contract else f"request {req_id}"
            refused[name] = (code, text)

    ib.errorEvent += on_error
    try:
        tickers = ib.reqTickers(*contracts_)
    finally:
        ib.errorEvent -= on_error
    if problem := permission_problem(refused):
        raise IntentFailed("market-data-permission", f"no market data permission for {problem}")
    found = {}
    for ticker in tickers:
        price = ticker.marketPrice()
        closed = not price or math.isnan(price)
        if closed:
            price = ticker.close
        if not price or math.isnan(price) or price <= 0:
            name = ticker.contract.localSymbol or ticker.contract.symbol
            raise IntentFailed("no-price", f"no price for {name}", retryable=True)
        found[ticker.contract.conId] = price
        if seen is not None:
            seen.append(observed(ticker, closed))
        if sized_on is not None:
            sized_on[ticker.contract.conId] = price_type(ticker, closed)
    return found


BAR_SIZES = (
    "1 secs",
    "5 secs",
    "10 secs",
    "15 secs",
    "30 secs",
    "1 min",
    "2 mins",
    "3 mins",
    "5 mins",
    "10 mins",
    "15 mins",
    "20 mins",
    "30 mins",
    "1 hour",
    "2 hours",
    "3 hours",
    "4 hours",
    "8 hours",
    "1 day",
    "1 week",
    "1 month",
)  # IB's bar sizes; schemas/intents/collect-market-data.schema.json lists the same


def daily_bars(
    ib: Any, contract: Any, duration: str, name: str = "", deadline: float | None = None
) -> list[Any]:
    """Daily bars of `contract` over `duration` (e.g. `1 M`), oldest first."""
    return bars(ib, contract, duration, "1 day", name, deadline)


def bars(
    ib: Any,
    contract: Any,
    duration: str,
    bar_size: str,
    name: str = "",
    deadline: float | None = None,
) -> list[Any]:
    """Bars of `bar_size` (one of BAR_SIZES) over `duration`, oldest first, paced to IB's limits
    (`worker.trading.historical`) and never waiting past `deadline` (time.monotonic()). An error
    IB sends for the request fails with its code and text (IB answers a refused request with no
    bars, e.g. 162 for bars too small for the duration); a pacing violation is waited out."""
    from worker.trading.historical import Gate

    label = name or contract.localSymbol or contract.symbol
    return Gate().bars(ib, contract, duration, bar_size, label, deadline)


def fx_rate(
    ib: Any,
    currency: str,
    base: str,
    cache: dict[str, float],
    priced_on: dict[str, str] | None = None,
    seen: list[Observed] | None = None,
) -> float:
    """Units of `base` per unit of `currency`, from the forex pair the gateway quotes; its
    price type noted in `priced_on` under the pair's name (`EUR.USD`) and the price in `seen`,
    as for any price (`prices`)."""
    import ib_async

    if currency == base:
        return 1.0
    if currency not in cache:
        for pair, invert in ((f"{currency}{base}", False), (f"{base}{currency}", True)):
            contract = ib_async.Forex(pair)
            if ib.qualifyContracts(contract) and contract.conId:
                sized_on: dict[int, str] = {}
                price = prices(ib, [contract], sized_on, seen)[contract.conId]
                cache[currency] = 1 / price if invert else price
                if priced_on is not None:
                    priced_on[contract.localSymbol or pair] = sized_on[contract.conId]
                break
        else:
            raise IntentFailed("no-price", f"no forex pair between {currency} and {base}")
    return cache[currency]


def account_value(ib: Any, tag: str) -> tuple[float, str]:
    """(value, currency) of an account value in the base currency, e.g. NetLiquidation."""
    for value in ib.accountValues():
        if value.tag == tag and value.currency not in ("", "BASE"):
            return float(value.value), value.currency
    raise IntentFailed("account", f"the gateway reported no {tag}", retryable=True)


def ib_quantity(value: Any) -> float:
    """A quantity from IB, where unset arrives as a huge sentinel (or NaN): then 0."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return number if 0 <= number < 1e30 else 0.0
