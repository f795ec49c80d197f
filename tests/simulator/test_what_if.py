"""whatIf orders: IB's OrderState computed from the simulator's own account, nothing placed."""

from __future__ import annotations

import ib_async as ib_
import pytest

from simulator.broker import Order, OrderError
from simulator.margin import what_if
from simulator.market import Market
from simulator.state import State


def _summary(ib: ib_.IB) -> dict[str, float]:
    ib.reqAccountSummary()  # afresh: accountSummary() alone answers from its cache
    return {v.tag: float(v.value) for v in ib.accountSummary() if v.tag != "AccountType"}


def test_what_if_reports_the_accounts_margin_and_the_fills_commission(connect, sim) -> None:
    ib = connect()
    sim.call("POST", "/faults", {"freeze_prices": True})
    vti = ib.qualifyContracts(ib_.Stock("VTI", "SMART", "USD"))[0]
    before = _summary(ib)
    state = ib.whatIfOrder(vti, ib_.MarketOrder("BUY", 300))
    assert float(state.maintMarginBefore) == pytest.approx(before["MaintMarginReq"], abs=0.01)
    assert float(state.equityWithLoanBefore) == pytest.approx(before["NetLiquidation"], abs=0.01)
    ask = ib.reqTickers(vti)[0].ask
    assert float(state.initMarginChange) == pytest.approx(300 * ask * 0.25, abs=0.02)
    assert float(state.maintMarginAfter) == pytest.approx(
        float(state.maintMarginBefore) + float(state.maintMarginChange), abs=0.01
    )
    assert state.commission == 1.5 and state.commissionCurrency == "USD"
    assert ib.reqAllOpenOrders() == [] and ib.reqExecutions() == []
    assert "VTI" not in {p.contract.symbol for p in ib.positions()}
    assert _summary(ib) == before

    trade = ib.placeOrder(vti, ib_.MarketOrder("BUY", 300))
    while not trade.isDone() or not trade.fills or trade.fills[-1].commissionReport.execId == "":
        ib.waitOnUpdate(timeout=5)
    assert trade.fills[0].commissionReport.commission == state.commission
    after = _summary(ib)
    assert after["MaintMarginReq"] == pytest.approx(float(state.maintMarginAfter), abs=0.01)
    assert after["NetLiquidation"] == pytest.approx(float(state.equityWithLoanAfter), abs=0.01)


def test_selling_what_is_held_frees_margin(connect) -> None:
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    state = ib.whatIfOrder(spy, ib_.LimitOrder("SELL", 100, 1.0))
    assert float(state.maintMarginChange) == pytest.approx(
        -float(state.maintMarginBefore) + (float(state.maintMarginAfter)), abs=0.01
    )
    assert float(state.maintMarginChange) < 0
    assert {p.contract.symbol: p.position for p in ib.positions()}["SPY"] == 100


def test_forex_what_if_costs_the_fx_commission(connect) -> None:
    ib = connect()
    eur = ib.qualifyContracts(ib_.Forex("EURUSD"))[0]
    state = ib.whatIfOrder(eur, ib_.MarketOrder("SELL", 10_000))
    assert state.commission == 2.0 and float(state.maintMarginChange) == 0


@pytest.mark.parametrize(
    ("quantity", "kind", "code"), [(0, "MKT", 434), (float("nan"), "MKT", 434), (1, "STP", 387)]
)
def test_a_what_if_ib_would_refuse_is_refused(quantity: float, kind: str, code: int) -> None:
    state = State()
    order = Order(1, 1, 0, state.instruments[0], "BUY", quantity, kind)
    with pytest.raises(OrderError) as refused:
        what_if(state, Market(0), order)
    assert refused.value.code == code
