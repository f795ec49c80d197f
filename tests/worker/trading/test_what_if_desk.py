"""The order desk asks the simulator's whatIf for each planned order: the dry run shows the cost,
and a plan that would leave excess liquidity below the floor is refused before any order."""

from __future__ import annotations

from types import SimpleNamespace

import ib_async
import pytest

from worker.exceptions import IntentFailed
from worker.trading.order_desk import OrderDesk
from worker.trading.order_plan import OrderPlan, OrderRequest

LIMITS = {"maxNotionalPerOrder": 1e9, "maxNotionalPerIntent": 1e9, "maxOrdersPerIntent": 5}


def _plan(ib: ib_async.IB, quantity: float = 100) -> OrderPlan:
    vti, gld = ib.qualifyContracts(
        ib_async.Stock("VTI", "SMART", "USD"), ib_async.Stock("GLD", "SMART", "USD")
    )
    prices = {t.contract.conId: t.marketPrice() for t in ib.reqTickers(vti, gld)}
    orders = [
        OrderRequest(c, "BUY", quantity, f"i-1:alloc:{c.conId}", prices[c.conId], 1.0, {"s": 1})
        for c in (vti, gld)
    ]
    return OrderPlan(orders, {"netLiquidation": 1})


def _desk(ib: ib_async.IB, limits: dict) -> OrderDesk:
    context = SimpleNamespace(id="i-1", trading_mode="paper", explicit_mode=True, placed=[])
    return OrderDesk(context, ib, {"riskLimits": limits})


def test_a_dry_run_shows_commission_and_margin_per_order(ib) -> None:
    result = _desk(ib, {}).execute(_plan(ib), dry_run=True)
    cost = result["whatIf"]
    assert [o["symbol"] for o in cost["orders"]] == ["VTI", "GLD"]
    for order in cost["orders"]:
        assert order["commission"] == 1.0 and order["commissionCurrency"] == "USD"
        assert order["initMarginChange"] > 0 and order["maintMarginChange"] > 0
    excess = {v.tag: float(v.value) for v in ib.accountValues() if v.currency == "USD"}
    assert cost["excessLiquidityBefore"] == excess["ExcessLiquidity"]
    spent = sum(o["maintMarginChange"] - o["equityWithLoanChange"] for o in cost["orders"])
    assert cost["excessLiquidityAfter"] == pytest.approx(excess["ExcessLiquidity"] - spent, 0.01)
    assert cost["commission"] == 2.0
    assert ib.sim.api.broker.orders == {}


def test_a_dry_run_below_the_floor_is_refused_and_shows_why(ib) -> None:
    with pytest.raises(IntentFailed) as refused:
        _desk(ib, {"minExcessLiquidity": 10_000_000}).execute(_plan(ib), dry_run=True)
    assert refused.value.code == "risk-limit" and not refused.value.retryable
    assert "below minExcessLiquidity 10,000,000" in str(refused.value)
    assert refused.value.result["whatIf"]["orders"][0]["commission"] == 1.0


def test_a_dry_run_breaching_a_risk_limit_is_refused(ib) -> None:
    with pytest.raises(IntentFailed) as refused:
        _desk(ib, {"maxOrdersPerIntent": 1}).execute(_plan(ib), dry_run=True)
    assert refused.value.code == "risk-limit" and "whatIf" in refused.value.result


def test_a_real_run_below_the_floor_sends_no_order(ib) -> None:
    floor = {**LIMITS, "minExcessLiquidity": 10_000_000}
    with pytest.raises(IntentFailed, match="minExcessLiquidity") as refused:
        _desk(ib, floor).execute(_plan(ib), dry_run=False)
    assert refused.value.result["whatIf"]["excessLiquidityAfter"] < 10_000_000
    assert ib.sim.api.broker.orders == {} and ib.reqAllOpenOrders() == []
