"""The stale-price check in the order path: once the plan is made, before anything is sent.

It runs after the plan because only a plan with orders sizes anything on a price, and after
IB's hours because a closed market with `whenClosed: skip` sends nothing either (a Saturday's
frozen Friday price must not turn a skipped run into a failure). `queue` sizes DAY orders on
those prices now, so it is checked like an open market.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading.market_hours import gateway_now
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan
from worker.trading.price_age import Observed, PricePolicy, refusal


def check(
    ib: Any,
    desk: OrderDesk,
    order_plan: OrderPlan,
    seen: Sequence[Observed],
    config: dict[str, Any],
    dry_run: bool,
) -> dict[str, Any] | None:
    """None: go on (no order, or every price accepted by the config); a result: the market is
    closed and `whenClosed: skip` ends the intent with no order anyway. Otherwise IntentFailed
    `stale-price` (not retryable) naming every stale price, with the plan as its result."""
    if not order_plan.orders or not seen:
        return None
    problem = refusal(list(seen), gateway_now(ib), PricePolicy.of(config))
    if problem is None:
        return None
    if (closed := desk.closed_result(order_plan, dry_run)) is not None:
        return closed
    raise IntentFailed("stale-price", problem, result=order_plan.describe(dry_run))
