"""Whether a price is fresh enough to size an order on: a pure decision, tested in milliseconds.

A price's time is IB's: the last trade's timestamp (tick 45, or 88 for delayed data), against
IB's clock (reqCurrentTime), never this machine's. The rules, money first:
- `allowStalePrices: true` in the trading config accepts any price (the age is still reported);
- live data with a live bid and ask is current (the midpoint, or a last price inside them:
  the quote confirms it); a last price without a quote is as old as its trade;
- frozen data (the last price of a closed market) is as old as its trade; its time unknown, it
  is refused;
- delayed data (IB: 15-20 minutes late) is accepted only when `marketDataType` asks for it
  (delayed or delayed-frozen), and then the limit is `maxPriceAgeSeconds` on top of the 20
  minutes IB's delay may take; delayed data the config did not ask for is refused;
- the previous close (no last price and no quote) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

DataType = Literal["live", "frozen", "delayed", "delayed-frozen"]
Source = Literal["last", "midpoint", "close"]
DATA_TYPES: dict[int, DataType] = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed-frozen"}
DEFAULT_MAX_AGE_SECONDS = 300.0
DELAY_SECONDS = 20 * 60  # IB's delayed data is 15-20 minutes late
DELAYED: tuple[DataType, ...] = ("delayed", "delayed-frozen")


@dataclass(frozen=True)
class PricePolicy:
    """What the trading config accepts: `maxPriceAgeSeconds`, `allowStalePrices`,
    `marketDataType` (each per mode, like every key)."""

    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    allow_stale: bool = False
    asked: DataType = "live"

    @classmethod
    def of(cls, config: dict[str, Any]) -> PricePolicy:
        age = config.get("maxPriceAgeSeconds")
        return cls(
            float(age) if age is not None else DEFAULT_MAX_AGE_SECONDS,
            bool(config.get("allowStalePrices", False)),
            config.get("marketDataType") or "live",
        )


@dataclass(frozen=True)
class Observed:
    """A price as IB delivered it."""

    name: str
    data_type: DataType
    source: Source
    at: datetime | None  # IB's time of the last trade, None when IB sent none
    quoted: bool = False  # a bid and an ask came with it

    def age(self, now: datetime) -> float | None:
        return None if self.at is None else (now - self.at).total_seconds()


def stale(price: Observed, now: datetime, policy: PricePolicy) -> str | None:
    """Why `price` may not size an order at IB's time `now`, or None when it may."""
    if policy.allow_stale:
        return None
    if price.data_type in DELAYED and policy.asked not in DELAYED:
        return (
            f"{price.name}: IB sent {price.data_type} data, but config.marketDataType is "
            f"{policy.asked}"
        )
    if price.source == "close":
        return f"{price.name}: only the previous close, no last price or quote"
    if price.data_type == "live" and (price.quoted or price.source == "midpoint"):
        return None  # the live bid and ask are now
    age = price.age(now)
    if age is None:
        if price.data_type == "live":
            return None  # a live last price without IB's trade time arrived just now
        return f"{price.name}: {price.data_type} {price.source} price without IB's trade time"
    limit = policy.max_age_seconds + (DELAY_SECONDS if price.data_type in DELAYED else 0)
    if age > limit:
        return (
            f"{price.name}: {price.data_type} {price.source} price is {age:.0f} s old "
            f"(limit {limit:.0f} s)"
        )
    return None


def refusal(found: list[Observed], now: datetime, policy: PricePolicy) -> str | None:
    """One message naming every stale price and what to configure; None when all may size."""
    reasons = [r for p in found if (r := stale(p, now, policy)) is not None]
    if not reasons:
        return None
    return (
        "stale prices, no order sized on them: "
        + "; ".join(reasons)
        + f". config.maxPriceAgeSeconds is {policy.max_age_seconds:g}; set "
        "config.allowStalePrices: true to accept such prices"
    )
