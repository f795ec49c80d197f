"""A trader's own ETFs (VTI, IEF, GLD) in the config: the dry run shows what IB would charge
for each order, the allocation fills, and a floor on excess liquidity refuses a plan."""

from __future__ import annotations

import copy

from tests.support import delivery, unique
from tests.worker.intents.conftest import TEST_CONFIG

WEIGHTS = {"VTI": 0.5, "IEF": 0.3, "GLD": 0.2}


def own_config() -> dict:
    config = copy.deepcopy(TEST_CONFIG)
    config["instruments"] = {
        key: {"symbol": key, "secType": "STK", "exchange": "SMART", "currency": "USD"}
        for key in WEIGHTS
    }
    config["strategies"] = {"static-weights": {"weights": WEIGHTS}}
    config["riskLimits"]["allowedInstruments"] = sorted(WEIGHTS)
    config["marketData"] = {"instruments": sorted(WEIGHTS), "duration": "1 M"}
    return config


def allocate(worker, intent_id: str, **params):
    return worker.handle(delivery({"intent": "allocation", "id": intent_id, "params": params}))


def test_an_allocation_of_the_users_own_etfs_costs_then_fills(
    make_worker, flat_sim, positions_root, results, trading_config
):
    trading_config.replace(own_config())
    worker = make_worker(flat_sim)
    dry = unique("own-dry")
    allocate(worker, dry, dryRun=True)
    result = results.for_id(dry)
    assert result["status"] == "succeeded", result["error"]
    cost = result["result"]["whatIf"]
    assert sorted(o["symbol"] for o in cost["orders"]) == sorted(WEIGHTS)
    for order in cost["orders"]:
        assert order["commission"] >= 1.0 and order["commissionCurrency"] == "USD"
        assert order["maintMarginChange"] > 0 and order["initMarginChange"] > 0
    assert cost["excessLiquidityAfter"] < cost["excessLiquidityBefore"]
    assert flat_sim.api.broker.orders == {}

    real = unique("own")
    allocate(worker, real)
    result = results.for_id(real)
    assert result["status"] == "succeeded", result["error"]
    assert {o["symbol"]: o["status"] for o in result["result"]["orders"]} == dict.fromkeys(
        WEIGHTS, "Filled"
    )
    held = {flat_sim.state.instrument(p.conId).symbol for p in flat_sim.state.positions}
    assert held == set(WEIGHTS)


def test_a_floor_the_plan_would_break_refuses_it_before_any_order(
    make_worker, flat_sim, results, trading_config
):
    config = own_config()
    # About 122,000 in cash, no position: the plan's 61,000 of ETFs take 15,000 of margin.
    config["riskLimits"]["minExcessLiquidity"] = 115_000
    trading_config.replace(config)
    worker = make_worker(flat_sim)
    for params in ({"dryRun": True}, {}):
        intent_id = unique("own-floor")
        allocate(worker, intent_id, **params)
        result = results.for_id(intent_id)
        assert (result["status"], result["error"]["code"]) == ("failed", "risk-limit")
        assert "below minExcessLiquidity 115,000" in result["error"]["message"]
        assert result["error"]["retryable"] is False
        cost = result["result"]["whatIf"]
        assert cost["excessLiquidityAfter"] < 115_000 <= cost["excessLiquidityBefore"]
    assert flat_sim.api.broker.orders == {}
