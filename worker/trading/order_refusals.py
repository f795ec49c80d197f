"""How an order's refusals and an earlier attempt's short order end the intent: IB's refusal
codes as the worker's errors, and `order-cut-short`."""

from __future__ import annotations

from typing import Any

from worker.exceptions import GatewayError, IntentFailed
from worker.trading.order_plan import OrderRequest


def raise_for(errors: list[tuple[int, str]], request: OrderRequest) -> None:
    for code, message in errors:
        if code == 321:
            raise GatewayError(
                "ib-321",
                "the API is read-only: set ReadOnlyApi=no in IBC's "
                "config.ini (or uncheck 'Read-Only API' in the gateway)",
                retryable=False,
            )
        if code == 201:
            raise IntentFailed(
                "broker-rejected",
                f"IB rejected {request.action} {request.quantity:g} {request.symbol}: {message}",
            )
        if code == 200:
            raise IntentFailed(
                "unknown-contract", f"the gateway does not know {request.symbol}: {message}"
            )


def fail_if_cut_short(placed: dict[str, Any], adopted: list[Any]) -> None:
    """An order an earlier attempt sent that ended short of its size (cancelled after the
    gateway did not acknowledge it, by hand, or at the day's end) is not sent again under its
    orderRef; the intent did not do what it was asked, so it does not report success. Ordering
    the rest here could double what that attempt filled but never booked: a new run, with a new
    id, counts it."""
    short = [o for o in adopted if o.status == "Cancelled"]
    if short:
        which = ", ".join(
            f"{o.action} {o.quantity:g} {o.symbol} ({o.order_ref}: filled {o.filled:g})"
            for o in short
        )
        raise IntentFailed(
            "order-cut-short",
            f"an earlier attempt's order ended unfilled or part filled: {which}; "
            "trade-reconciliation books what filled; publish the intent again with a new id "
            "to order the rest",
            result=placed,
        )
