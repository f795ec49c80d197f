"""Dry runs of close-all and cash-balancer show IB's whatIf cost of each planned order."""

from __future__ import annotations

import pytest

from tests.support import delivery, unique
from tests.worker.intents.conftest import SPY, TLT


def run(worker, intent: str, intent_id: str, **params):
    return worker.handle(delivery({"intent": intent, "id": intent_id, "params": params}))


def test_close_all_dry_run_shows_the_margin_freed_and_the_commission(
    make_worker, sim, positions_root, results
):
    holdings = positions_root.collection("holdings")
    holdings.document("alpha").set({"positions": {str(SPY): 100, str(TLT): 50}})
    intent_id = unique("close-dry")
    run(make_worker(sim), "close-all", intent_id, dryRun=True)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    cost = {o["symbol"]: o for o in result["result"]["whatIf"]["orders"]}
    assert set(cost) == {"SPY", "TLT"}
    assert cost["SPY"]["commission"] == 1.0 and cost["SPY"]["maintMarginChange"] < 0
    total = result["result"]["whatIf"]
    assert total["excessLiquidityAfter"] > total["excessLiquidityBefore"]  # margin freed
    assert sim.api.broker.orders == {}


def test_cash_balancer_dry_run_shows_the_fx_commission(make_worker, flat_sim, results):
    intent_id = unique("cash-dry")
    run(make_worker(flat_sim), "cash-balancer", intent_id, dryRun=True)
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    cost = {o["symbol"]: o for o in result["result"]["whatIf"]["orders"]}
    assert set(cost) == {"EUR.USD", "USD.CHF"}
    assert all(o["commission"] == 2.0 and o["maintMarginChange"] == 0 for o in cost.values())
    assert result["result"]["whatIf"]["commission"] == pytest.approx(4.0)
    assert flat_sim.api.broker.orders == {}
