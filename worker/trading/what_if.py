"""What IB says a plan would cost before it goes out: a whatIf order per planned order
(commission, margin change, excess liquidity after) and the floor `riskLimits.minExcessLiquidity`
a plan must keep.

IB answers each whatIf against the account as it is, not after the plan's other orders, so the
plan's excess liquidity after is today's plus each order's change (equity with loan change less
maintenance margin change): exact for margin that adds up per position, as Reg T's does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading.order_plan import OrderRequest

UNSET = 1e300  # IB's "no value" is 1.7976931348623157E308


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and abs(number) < UNSET else None


@dataclass(frozen=True)
class OrderCost:
    """One order's whatIf answer, or why there is none (`error`)."""

    order_ref: str
    symbol: str
    commission: float | None = None
    commission_currency: str = ""
    init_margin_change: float | None = None
    maint_margin_change: float | None = None
    equity_with_loan_change: float | None = None
    excess_liquidity_after: float | None = None  # this order alone: equity with loan - maint
    warning: str = ""
    error: str = ""

    @property
    def excess_liquidity_change(self) -> float | None:
        if self.equity_with_loan_change is None or self.maint_margin_change is None:
            return None
        return self.equity_with_loan_change - self.maint_margin_change

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"orderRef": self.order_ref, "symbol": self.symbol}
        if self.error:
            return {**described, "error": self.error}
        described |= {
            "commission": self.commission,
            "commissionCurrency": self.commission_currency,
            "initMarginChange": self.init_margin_change,
            "maintMarginChange": self.maint_margin_change,
            "equityWithLoanChange": self.equity_with_loan_change,
            "excessLiquidityAfter": self.excess_liquidity_after,
        }
        return described | ({"warning": self.warning} if self.warning else {})


def order_cost(request: OrderRequest, state: Any) -> OrderCost:
    """An ib_async OrderState (its margin fields are strings) as an OrderCost."""
    ewl_after, maint_after = _number(state.equityWithLoanAfter), _number(state.maintMarginAfter)
    commission = _number(state.commission)
    if commission is None:  # IB may give only a range
        low, high = _number(state.minCommission), _number(state.maxCommission)
        commission = high if high is not None else low
    return OrderCost(
        order_ref=request.order_ref,
        symbol=request.symbol,
        commission=commission,
        commission_currency=str(state.commissionCurrency or ""),
        init_margin_change=_number(state.initMarginChange),
        maint_margin_change=_number(state.maintMarginChange),
        equity_with_loan_change=_number(state.equityWithLoanChange),
        excess_liquidity_after=(
            ewl_after - maint_after if ewl_after is not None and maint_after is not None else None
        ),
        warning=str(state.warningText or ""),
    )


@dataclass(frozen=True)
class PlanCost:
    orders: tuple[OrderCost, ...]
    excess_liquidity_before: float | None
    currency: str = ""

    @property
    def complete(self) -> bool:
        return self.excess_liquidity_after is not None

    def _total(self, name: str) -> float | None:
        values = [getattr(o, name) for o in self.orders]
        return None if any(v is None for v in values) else round(sum(values), 2)

    @property
    def excess_liquidity_after(self) -> float | None:
        change = self._total("excess_liquidity_change")
        if change is None or self.excess_liquidity_before is None:
            return None
        return round(self.excess_liquidity_before + change, 2)

    def describe(self) -> dict[str, Any]:
        return {
            "orders": [o.describe() for o in self.orders],
            "commission": self._total("commission"),
            "initMarginChange": self._total("init_margin_change"),
            "maintMarginChange": self._total("maint_margin_change"),
            "excessLiquidityBefore": self.excess_liquidity_before,
            "excessLiquidityAfter": self.excess_liquidity_after,
            "currency": self.currency,
        }


def floor_breach(cost: PlanCost, floor: float | None) -> str | None:
    """Why the plan must not go out under `riskLimits.minExcessLiquidity`, or None."""
    if floor is None or not cost.orders:
        return None
    after = cost.excess_liquidity_after
    if after is None:
        failed = "; ".join(f"{o.symbol}: {o.error}" for o in cost.orders if o.error)
        return (
            f"the excess liquidity after the plan is unknown ({failed or 'IB gave no margin'}), "
            f"so minExcessLiquidity {floor:,.0f} cannot be checked"
        )
    if after < floor:
        return (
            f"the plan would leave excess liquidity {after:,.0f} {cost.currency}, below "
            f"minExcessLiquidity {floor:,.0f}"
        )
    return None


def ask(
    ib: Any,
    requests: Sequence[OrderRequest],
    make_order: Callable[[OrderRequest], Any],
    timeout: float,
) -> list[OrderCost]:
    """A whatIf per request, each answered within `timeout` or reported as an error."""
    from worker.gateway.connect import ErrorLog

    costs = []
    for request in requests:
        errors = ErrorLog()
        ib.errorEvent += errors
        order = make_order(request)
        try:
            state = ib.run(ib.whatIfOrderAsync(request.contract, order), timeout=timeout)
        except TimeoutError:
            state = None
        finally:
            ib.errorEvent -= errors
        if state is None or not hasattr(state, "maintMarginChange"):
            why = errors.last() or f"no answer within {timeout:g} s"
            costs.append(OrderCost(request.order_ref, request.symbol, error=why))
        else:
            costs.append(order_cost(request, state))
    return costs


def refuse(reason: str, result: dict[str, Any]) -> IntentFailed:
    return IntentFailed("risk-limit", reason, retryable=False, result=result)
