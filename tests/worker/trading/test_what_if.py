"""IB's whatIf answers read into costs, a plan's totals and the excess liquidity floor."""

from __future__ import annotations

from types import SimpleNamespace

import ib_async
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.trading.config import errors
from worker.trading.order_plan import OrderRequest
from worker.trading.risk import RiskLimits
from worker.trading.what_if import OrderCost, PlanCost, floor_breach, order_cost

VTI = ib_async.Contract(conId=1, symbol="VTI")
REQUEST = OrderRequest(VTI, "BUY", 10, "i:alloc:1", 250.0)
UNSET = "1.7976931348623157E308"


def state(**fields: object) -> SimpleNamespace:
    base = {
        "initMarginChange": "625.00",
        "maintMarginChange": "625.00",
        "equityWithLoanChange": "-1.00",
        "equityWithLoanAfter": "100000.00",
        "maintMarginAfter": "20625.00",
        "commission": 1.0,
        "minCommission": 1.0,
        "maxCommission": 1.0,
        "commissionCurrency": "USD",
        "warningText": "",
    }
    return SimpleNamespace(**(base | fields))


def test_an_answer_becomes_the_orders_cost() -> None:
    cost = order_cost(REQUEST, state())
    assert (cost.commission, cost.maint_margin_change, cost.excess_liquidity_after) == (
        1.0,
        625.0,
        79375.0,
    )
    assert cost.excess_liquidity_change == -626.0
    assert cost.describe()["commissionCurrency"] == "USD"


def test_unset_values_are_unknown_not_huge() -> None:
    cost = order_cost(REQUEST, state(maintMarginChange=UNSET, commission=1.7976931348623157e308))
    assert cost.maint_margin_change is None and cost.commission == 1.0  # the range's top
    assert cost.excess_liquidity_change is None


@given(st.dictionaries(st.sampled_from(sorted(vars(state()))), st.text(max_size=12) | st.none()))
def test_any_answer_reads_without_crashing(fields: dict[str, object]) -> None:
    cost = order_cost(REQUEST, state(**fields))
    for value in (cost.commission, cost.maint_margin_change, cost.excess_liquidity_after):
        assert value is None or isinstance(value, float)


def _plan(before: float | None, *changes: tuple[float, float]) -> PlanCost:
    orders = tuple(
        OrderCost(f"i:alloc:{n}", "X", 1.0, "USD", m, m, e, None)
        for n, (m, e) in enumerate(changes)
    )
    return PlanCost(orders, before, "USD")


def test_the_plans_excess_liquidity_after_adds_each_orders_change() -> None:
    plan = _plan(50_000, (10_000, -1), (-4_000, -1))
    assert plan.excess_liquidity_after == 50_000 - 6_000 - 2
    described = plan.describe()
    assert (described["commission"], described["maintMarginChange"]) == (2.0, 6_000)


@pytest.mark.parametrize(
    ("floor", "refused"), [(None, False), (0, False), (43_998, False), (44_000, True)]
)
def test_the_floor(floor: float | None, refused: bool) -> None:
    reason = floor_breach(_plan(50_000, (6_000, -2)), floor)
    assert (reason is not None) == refused
    if refused:
        assert "43,998" in reason and "minExcessLiquidity 44,000" in reason


def test_a_floor_that_cannot_be_checked_refuses() -> None:
    failed = PlanCost((OrderCost("i:a:1", "VTI", error="IB error 201: no"),), 50_000, "USD")
    reason = floor_breach(failed, 1_000)
    assert reason is not None and "IB error 201" in reason
    assert floor_breach(_plan(None, (1, 0)), 1_000) is not None
    assert floor_breach(PlanCost((), None), 1_000) is None  # no order, nothing to refuse


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"riskLimits": {"minExcessLiquidity": -1}}, "minExcessLiquidity"),
        ({"riskLimits": {"minExcessLiquidity": "20000"}}, "minExcessLiquidity"),
        ({"marketData": {"barSize": "7 mins"}}, "barSize"),
        ({"marketData": {"duration": "1 Day"}}, "duration"),
    ],
)
def test_a_bad_floor_or_bar_size_in_the_config_is_named(config: dict, words: str) -> None:
    problems = errors(config, [], references=False)
    assert problems and words in problems[0]


def test_a_floor_and_a_bar_size_are_valid_config() -> None:
    config = {"riskLimits": {"minExcessLiquidity": 0}, "marketData": {"barSize": "5 mins"}}
    assert errors(config, [], references=False) == []
    assert RiskLimits.from_config(config).min_excess_liquidity == 0
