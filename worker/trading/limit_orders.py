"""The gateway side of limit and close orders: limit prices from live quotes and each contract's
minTick, the ib_async order for each type, and the unfilled-remainder policy of LMT orders
(worker.trading.order_types decides; this module asks IB and acts)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading import market, market_hours
from worker.trading.order_plan import OrderRequest
from worker.trading.order_types import (
    OrderSpec,
    limit_price,
    reference_price,
    sane_quote,
    unfilled_step,
)
from worker.trading.price_age import PricePolicy, stale

log = logging.getLogger("worker.trading")
DONE = ("Cancelled", "ApiCancelled", "Filled", "Inactive")
CANCEL_SECONDS = 5.0
POLL_SECONDS = 0.2


def min_ticks(ib: Any, requests: list[OrderRequest]) -> dict[int, float]:
    """conId -> the contract's minTick (ContractDetails), 0.01 when IB sends none."""
    details = market_hours.details_of(ib, [r.contract for r in requests])
    by_name = {name: float(d.minTick or 0.01) for name, d in details.items()}
    return {r.contract.conId: by_name.get(r.symbol, 0.01) for r in requests}


def quote_limit(
    ib: Any, request: OrderRequest, spec: OrderSpec, tick: float, policy: PricePolicy | None = None
) -> float | None:
    """The marketable limit for `request` from a fresh quote; None without a bid and ask or a
    last price (as on a closed market: whenClosed decides first, then `require_limits`), and,
    given the config's `policy` (a reprice), None when the price the limit would be set from is
    too old (a halt). The first limits have no policy here: `stale_guard` judges the prices the
    plan was sized on before anything is sent."""
    (ticker,) = ib.reqTickers(request.contract)
    reference = reference_price(ticker.bid, ticker.ask, ticker.last)
    if reference is None:
        return None
    if policy is not None:
        # judged on the price the limit is set from: the mid only for a live, sane two-sided
        # quote (a crossed one around a halt falls back to the last price, and so does its age)
        mid = sane_quote(ticker.bid, ticker.ask) and ticker.hasBidAsk()
        seen = dataclasses.replace(
            market.observed(ticker, closed=False),
            quoted=mid,
            source="midpoint" if mid else "last",
        )
        why = stale(seen, market_hours.gateway_now(ib), policy)
        if why is not None:
            log.warning("no limit for %s from a stale price: %s", request.order_ref, why)
            return None
    assert spec.limit_offset_bps is not None  # parse() requires it for LMT and LOC
    return limit_price(request.action, reference, spec.limit_offset_bps, tick)


def require_limits(requests: list[OrderRequest], spec: OrderSpec) -> None:
    """IntentFailed `no-limit-price` (retryable: the quote may come) for a limit order that
    found no price to set its limit from; nothing is sent."""
    missing = [r.symbol for r in requests if spec.needs_limit and r.limit is None]
    if missing:
        raise IntentFailed(
            "no-limit-price",
            f"no bid/ask or last price for {', '.join(missing)} to set the {spec.order_type} "
            "limit from; no order placed",
            retryable=True,
        )


def with_type(ib: Any, requests: list[OrderRequest], spec: OrderSpec) -> list[OrderRequest]:
    """The requests with the order type IB is sent and, for LMT and LOC, their limit prices
    (before the risk limits are checked: the notional is at the limit price; None where no
    quote gave one). orderRefs stay."""
    if not requests:
        return requests
    ticks = min_ticks(ib, requests) if spec.needs_limit else {}
    return [
        dataclasses.replace(
            r,
            order_type=spec.ib_type,
            limit=quote_limit(ib, r, spec, ticks[r.contract.conId]) if spec.needs_limit else None,
        )
        for r in requests
    ]


def ib_order(
    ib_async: Any, request: OrderRequest, spec: OrderSpec, properties: dict[str, Any], algo: str
) -> Any:
    """The ib_async Order for `request`: MKT (with the Adaptive algo for non-forex orders, as
    always), LMT, MOC or LOC, DAY unless orderProperties.tif says otherwise."""
    order = ib_async.Order(
        action=request.action,
        totalQuantity=abs(request.quantity),
        orderType=spec.ib_type,
        orderRef=request.order_ref,
        tif=properties.get("tif", "DAY"),
    )
    if request.limit is not None:
        order.lmtPrice = request.limit
    if properties.get("goodAfterTime"):
        order.goodAfterTime = properties["goodAfterTime"]
    if spec.ib_type == "MKT" and request.contract.secType != "CASH":
        order.algoStrategy = "Adaptive"
        order.algoParams = [ib_async.TagValue("adaptivePriority", algo)]
    return order


def settle(
    ib: Any,
    spec: OrderSpec,
    outcomes: list[dict[str, Any]],
    fresh: set[str],
    reprice: Callable[[Any], float | None],
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """Apply the LMT `unfilled` policy to the orders this attempt sent (`fresh` orderRefs; an
    earlier attempt's orders are left as they are): wait `unfilledAfterSeconds`, then cancel
    the remainder, or reprice it once (`reprice(trade)` gives the new limit; None cancels that
    order's remainder then) and cancel what is left after another wait. A reprice modifies the
    same order (same orderId and orderRef), so nothing can double. The outcomes get the end
    state.
    `deadline` (on `clock`): a wait that would run into the attempt's deadline cancels the
    remainder instead, so the policy is kept rather than cut short by the attempt's end (a
    retried attempt adopts the order and leaves it working)."""
    if spec.unfilled is None or not fresh:
        return outcomes
    trades = {t.order.orderRef: t for t in ib.trades() if t.order.orderRef in fresh}
    notes: dict[str, str] = {}
    started, repriced = clock(), 0
    while working := still_working(list(trades.values())):
        step = unfilled_step(spec, clock() - started, repriced)
        if step == "leave":
            break
        late = deadline is not None and clock() + POLL_SECONDS + CANCEL_SECONDS >= deadline
        if step == "wait" and late:
            step = "cancel"
        if step == "wait":
            ib.sleep(POLL_SECONDS)
            continue
        if step == "reprice":
            refused = []
            for trade in working:
                limit = reprice(trade)
                if limit is None:
                    refused.append(trade)
                    continue
                if trade.orderStatus.status in DONE:
                    continue  # filled (or ended) while the new quote was asked for
                trade.order.lmtPrice = limit
                ib.placeOrder(trade.contract, trade.order)  # a modification: same orderId
                notes[trade.order.orderRef] = f"repriced to {limit:g}"
            cancel_and_wait(ib, refused)  # no limit to move to: the remainder goes now
            for trade in refused:
                notes[trade.order.orderRef] = (
                    "not repriced (no fresh usable quote, or the new limit broke a risk limit): "
                    "remainder cancelled"
                )
            started, repriced = clock(), 1
            continue
        cancel_and_wait(ib, working)
        for trade in working:
            before = notes.get(trade.order.orderRef)
            notes[trade.order.orderRef] = (f"{before}, then " if before else "") + (
                "remainder cancelled at the attempt's deadline"
                if late
                else f"remainder cancelled after {spec.unfilled_after_seconds} s unfilled"
            )
        break
    return [_updated(o, trades.get(o["orderRef"]), notes.get(o["orderRef"])) for o in outcomes]


def cancel_and_wait(ib: Any, trades: list[Any]) -> list[Any]:
    """Cancel `trades` and wait up to CANCEL_SECONDS until none can fill any more; those still
    working then."""
    for trade in trades:
        ib.cancelOrder(trade.order)
    deadline = time.monotonic() + CANCEL_SECONDS
    while (working := still_working(trades)) and time.monotonic() < deadline:
        ib.sleep(0.1)
    return working


def still_working(trades: list[Any]) -> list[Any]:
    return [t for t in trades if t.orderStatus.status not in DONE]


def _updated(outcome: dict[str, Any], trade: Any, note: str | None) -> dict[str, Any]:
    if trade is None:
        return outcome
    return {
        **outcome,
        "status": trade.orderStatus.status,
        "filled": trade.orderStatus.filled,
        "avgFillPrice": trade.orderStatus.avgFillPrice,
        "limitPrice": trade.order.lmtPrice,
        **({"unfilled": note} if note else {}),
    }


def repricer(
    ib: Any,
    spec: OrderSpec,
    requests: list[OrderRequest],
    check: Callable[[OrderRequest], None],
    policy: PricePolicy | None = None,
) -> Callable[[Any], float | None]:
    """The reprice step for `settle`: a new limit from a fresh quote for the trade's request,
    None (cancel instead) when there is no quote, the quote is stale by `policy`, or the new
    limit breaks a risk limit (`check` raises IntentFailed)."""
    by_ref = {r.order_ref: r for r in requests}

    def reprice(trade: Any) -> float | None:
        request = by_ref.get(trade.order.orderRef)
        if request is None:
            return None
        try:
            tick = min_ticks(ib, [request])[request.contract.conId]
            limit = quote_limit(ib, request, spec, tick, policy)
            if limit is None:
                log.warning("not repricing %s: no usable quote", request.order_ref)
                return None
            check(dataclasses.replace(request, limit=limit))
        except IntentFailed as exc:
            log.warning("not repricing %s: %s", request.order_ref, exc)
            return None
        return limit

    return reprice
