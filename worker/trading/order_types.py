"""Order types: what `orderProperties` asks for (`OrderSpec`), and the pure decisions about it:
a marketable limit price from a quote, the close-order cut-off, and what to do with a limit
order's unfilled remainder. No I/O here; the order desk gathers quotes, hours and the clock.

- MKT (and `Adaptive`, the same): a market order, with IB's Adaptive algo for non-forex orders.
- LMT: a marketable limit, `limitOffsetBps` through the mid (the last price without a bid and
  ask), rounded to the contract's minTick on the marketable side; `unfilled` says what happens
  to a remainder still working `unfilledAfterSeconds` after it was sent.
- MOC / LOC: at the close, DAY only, refused from the cut-off on (`close_cutoff`); LOC's limit
  follows the LMT rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal, get_args

from worker.exceptions import IntentFailed
from worker.trading.market_hours import Session, sessions

OrderType = Literal["MKT", "Adaptive", "LMT", "MOC", "LOC"]
ORDER_TYPES: tuple[str, ...] = get_args(OrderType)
Unfilled = Literal["cancel", "reprice"]
UNFILLED: tuple[str, ...] = get_args(Unfilled)
TIFS = ("DAY", "GTC", "OPG", "IOC")
MAX_OFFSET_BPS = 500.0  # 5 %: a "marketable" limit further away is a typo, not a price
MAX_UNFILLED_SECONDS = 120  # twice that (reprice, then cancel) stays inside the intent deadline
AT_CLOSE = ("MOC", "LOC")
WITH_LIMIT = ("LMT", "LOC")
DEFAULT_CUTOFF = time(15, 50)
DEFAULT_BEFORE_CLOSE = timedelta(minutes=10)


@dataclass(frozen=True)
class OrderSpec:
    """The order type of an intent's orders, checked (`parse`)."""

    order_type: OrderType = "MKT"
    tif: str = "DAY"
    limit_offset_bps: float | None = None
    unfilled_after_seconds: int | None = None
    unfilled: Unfilled | None = None

    @property
    def ib_type(self) -> str:
        """The orderType IB is sent (Adaptive is a MKT order with the Adaptive algo)."""
        return "MKT" if self.order_type == "Adaptive" else self.order_type

    @property
    def needs_limit(self) -> bool:
        return self.order_type in WITH_LIMIT

    @property
    def at_close(self) -> bool:
        return self.order_type in AT_CLOSE


def _bad(message: str) -> IntentFailed:
    return IntentFailed("bad-params", f"orderProperties: {message}", retryable=False)


def parse(properties: Any) -> OrderSpec:
    """`orderProperties` as an OrderSpec; IntentFailed `bad-params` (not retryable) naming the
    field for anything the schema should have refused (a NaN offset included)."""
    if properties is None:
        return OrderSpec()
    if not isinstance(properties, dict):
        raise _bad(f"expected an object, got {type(properties).__name__}")
    kind = properties.get("orderType", "MKT")
    if kind not in ORDER_TYPES:
        raise _bad(f"orderType {kind!r} is not one of {', '.join(ORDER_TYPES)}")
    tif = properties.get("tif", "DAY")
    if tif not in TIFS:
        raise _bad(f"tif {tif!r} is not one of {', '.join(TIFS)}")
    if kind in AT_CLOSE and tif != "DAY":
        raise _bad(f"{kind} orders are DAY orders (for today's close); tif {tif!r} is not DAY")
    offset = properties.get("limitOffsetBps")
    if offset is not None:
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise _bad(f"limitOffsetBps must be a number, got {offset!r}")
        if not (math.isfinite(offset) and 0 <= offset <= MAX_OFFSET_BPS):
            raise _bad(f"limitOffsetBps {offset!r} is not between 0 and {MAX_OFFSET_BPS:g}")
        offset = float(offset)
    if kind in WITH_LIMIT and offset is None:
        raise _bad(f"{kind} needs limitOffsetBps, the limit's distance through the mid")
    if kind not in WITH_LIMIT and offset is not None:
        raise _bad(f"limitOffsetBps is for LMT and LOC orders, not {kind}")
    after = properties.get("unfilledAfterSeconds")
    policy = properties.get("unfilled")
    if (after is None) != (policy is None):
        raise _bad("unfilledAfterSeconds and unfilled go together")
    if after is not None:
        if kind != "LMT":
            raise _bad(f"unfilled/unfilledAfterSeconds are for LMT orders, not {kind}")
        if isinstance(after, bool) or not isinstance(after, int):
            raise _bad(f"unfilledAfterSeconds must be a whole number, got {after!r}")
        if not 1 <= after <= MAX_UNFILLED_SECONDS:
            raise _bad(f"unfilledAfterSeconds {after} is not between 1 and {MAX_UNFILLED_SECONDS}")
        if policy not in UNFILLED:
            raise _bad(f"unfilled {policy!r} is not one of {', '.join(UNFILLED)}")
    return OrderSpec(kind, tif, offset, after, policy)


def _usable(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0


def sane_quote(bid: float | None, ask: float | None) -> bool:
    """A bid and an ask to take the mid of: both real prices, not crossed."""
    return _usable(bid) and _usable(ask) and bid <= ask  # type: ignore[operator]


def reference_price(bid: float | None, ask: float | None, last: float | None) -> float | None:
    """The mid when there is a sane bid and ask, else the last price, else None."""
    if sane_quote(bid, ask):
        return (bid + ask) / 2  # type: ignore[operator]
    return last if _usable(last) else None


def limit_price(action: str, reference: float, offset_bps: float, min_tick: float) -> float:
    """`offset_bps` through `reference` (above for a BUY, below for a SELL), on the contract's
    tick grid, rounded towards the marketable side (up for a BUY, down for a SELL); never 0."""
    tick = Decimal(str(min_tick)) if _usable(min_tick) else Decimal("0.01")
    sign = 1 if action == "BUY" else -1
    raw = Decimal(str(reference)) * (1 + Decimal(sign) * Decimal(str(offset_bps)) / 10_000)
    # A float's error (a mid of 1.10 and 1.30 is 1.2000000000000002) must not move the limit a
    # whole tick: to a millionth of a tick first, then onto the grid.
    exact = (raw / tick).quantize(Decimal("1e-6"))
    steps = exact.to_integral_value(ROUND_CEILING if sign > 0 else ROUND_FLOOR)
    return float(max(steps, Decimal(1)) * tick)


def parse_cutoff(text: Any) -> time:
    """`HH:MM` of the config's `closeOrders.cutoff` (the schema checks its shape)."""
    if text is None:
        return DEFAULT_CUTOFF
    return datetime.strptime(str(text), "%H:%M").time()


def close_cutoff(
    now: datetime, found: list[Session], cutoff: time, before_close: timedelta
) -> datetime | None:
    """The cut-off for close orders in the session open at `now` (sessions in the instrument's
    own time zone): the configured clock time, or `before_close` ahead of the session's close
    when that comes earlier (an early-close day); None when no session is open now."""
    for session in found:
        if session.start <= now < session.end:
            close = session.end
            at_clock = datetime.combine(close.date(), cutoff, close.tzinfo)
            return min(at_clock, close - before_close)
    return None


def past_cutoff(now: datetime, cutoff: datetime | None) -> bool:
    return cutoff is not None and now >= cutoff


UnfilledStep = Literal["wait", "cancel", "reprice", "leave"]


def unfilled_step(spec: OrderSpec, elapsed: float, repriced: int) -> UnfilledStep:
    """What to do with a limit order's remainder `elapsed` seconds after it was sent (or last
    repriced), `repriced` times repriced so far: without a policy it is left working (a DAY order
    IB cancels at the close); `cancel` cancels it once the time is up; `reprice` moves the limit
    once (the same order, modified: never a second order), then cancels after another wait."""
    if spec.unfilled is None or spec.unfilled_after_seconds is None:
        return "leave"
    if elapsed < spec.unfilled_after_seconds:
        return "wait"
    if spec.unfilled == "reprice" and repriced == 0:
        return "reprice"
    return "cancel"


def close_rule(config: dict[str, Any]) -> tuple[time, timedelta]:
    """(cut-off clock time, lead before an earlier close) from `config.closeOrders`."""
    rule = config.get("closeOrders") or {}
    minutes = rule.get("minutesBeforeClose")
    before = DEFAULT_BEFORE_CLOSE if minutes is None else timedelta(minutes=int(minutes))
    return parse_cutoff(rule.get("cutoff")), before


def cutoff_refusal(
    now: datetime, details: dict[str, Any], kind: str, cutoff: time, before_close: timedelta
) -> str | None:
    """Why `kind` (MOC/LOC) orders cannot go out at `now` for the instruments' ContractDetails
    (name -> details with liquidHours and timeZoneId), or None. The cut-off is compared in each
    instrument's own time zone; a market not open now is for `whenClosed`, not for this."""
    late = []
    for name, d in sorted(details.items()):
        found = sessions(d.liquidHours or d.tradingHours or "", d.timeZoneId)
        at = close_cutoff(now, found, cutoff, before_close)
        if past_cutoff(now, at):
            assert at is not None
            late.append(f"{name} (cut-off {at.strftime('%H:%M')} {d.timeZoneId})")
    if not late:
        return None
    return (
        f"{kind} orders are refused after the exchange's cut-off for close orders: "
        f"{', '.join(late)}; no order placed. Send a MKT or LMT order, or run before the cut-off "
        "(config.closeOrders)"
    )
