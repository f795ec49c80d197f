"""Risk limits (`config.riskLimits`), checked before the first order of an intent goes out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading.order_plan import OrderRequest


@dataclass(frozen=True)
class RiskLimits:
    max_notional_per_order: float | None = None
    max_notional_per_intent: float | None = None
    max_orders_per_intent: int | None = None
    allowed_instruments: frozenset[str] | None = None
    min_excess_liquidity: float | None = None  # checked with IB's whatIf answers (what_if.py)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RiskLimits:
        limits = config.get("riskLimits") or {}
        allowed = limits.get("allowedInstruments")
        return cls(
            max_notional_per_order=limits.get("maxNotionalPerOrder"),
            max_notional_per_intent=limits.get("maxNotionalPerIntent"),
            max_orders_per_intent=limits.get("maxOrdersPerIntent"),
            allowed_instruments=frozenset(allowed) if allowed is not None else None,
            min_excess_liquidity=limits.get("minExcessLiquidity"),
        )


def check_limits(
    requests: Sequence[OrderRequest], limits: RiskLimits, earlier: Sequence[OrderRequest] = ()
) -> None:
    """Fail (not retryable) before anything is sent when a limit would be breached; `earlier`
    orders of the same intent (a batch's previous steps) count towards the per-intent limits."""

    def breach(message: str) -> IntentFailed:
        return IntentFailed("risk-limit", message, retryable=False)

    before = f" (with {len(earlier)} of earlier steps)" if earlier else ""
    requests = [*earlier, *requests]

    if limits.max_orders_per_intent is not None and len(requests) > limits.max_orders_per_intent:
        raise breach(
            f"{len(requests)} orders{before} exceed maxOrdersPerIntent "
            f"{limits.max_orders_per_intent}"
        )
    for r in requests:
        if not (math.isfinite(r.notional) and r.price > 0):
            raise breach(f"{r.symbol} has no usable price ({r.price!r}): no limit can be checked")
        if limits.allowed_instruments is not None and r.contract.symbol not in (
            limits.allowed_instruments
        ):
            raise breach(f"{r.symbol} is not in allowedInstruments")
        if limits.max_notional_per_order is not None and r.notional > limits.max_notional_per_order:
            raise breach(
                f"{r.action} {r.quantity:g} {r.symbol} is {r.notional:,.0f} notional, "
                f"over maxNotionalPerOrder {limits.max_notional_per_order:,.0f}"
            )
    total = sum(r.notional for r in requests)
    if limits.max_notional_per_intent is not None and total > limits.max_notional_per_intent:
        raise breach(
            f"{total:,.0f} notional{before} exceeds maxNotionalPerIntent "
            f"{limits.max_notional_per_intent:,.0f}"
        )
