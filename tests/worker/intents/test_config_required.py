"""What an order-placing intent needs from the trading config: absent, it fails naming the key
(`config-missing`); invalid, naming the key (`config-invalid`); nothing is ever ordered."""

from __future__ import annotations

import copy

import pytest

from tests.support import delivery, pipeline, unique
from tests.worker.intents.conftest import SPY, TEST_CONFIG


@pytest.fixture
def held(positions_root):
    """A strategy holding what the simulator's default account holds, so close-all has work."""
    positions_root.collection("holdings").document("alpha").set({"positions": {str(SPY): 100}})
    return positions_root


EMPTY = [
    ({"intent": "allocation"}, "config.exposure.overall is missing"),
    ({"intent": "cash-balancer"}, "config.cashBalanceThresholdInBaseCurrency is missing"),
    ({"intent": "close-all"}, "config.riskLimits.maxNotionalPerOrder is missing"),
    (
        {"intent": "batch", "params": {"steps": [{"intent": "allocation"}]}},
        "step 1 (allocation) failed: config.exposure.overall is missing",
    ),
    ({"intent": "collect-market-data"}, "config.marketData.instruments is missing"),
]


def test_with_no_config_at_all_each_intent_names_the_first_key_it_needs(
    make_worker, sim, held, results, trading_config
):
    trading_config.replace({}, {})
    worker = make_worker(sim)
    for body, words in EMPTY:
        intent_id = unique("cfg")
        worker.handle(delivery({"id": intent_id, **body}))
        result = results.for_id(intent_id)
        assert (result["status"], result["error"]["code"]) == ("failed", "config-missing"), body
        assert words in result["error"]["message"] and "config apply" in result["error"]["message"]
        assert result["error"]["retryable"] is False
    assert sim.api.broker.orders == {}


PARTIAL = [
    ("riskLimits", {"intent": "allocation"}, "config.riskLimits.maxNotionalPerOrder is missing"),
    (
        "exposure",
        {"intent": "allocation", "params": {"strategies": ["dummy"]}},
        "config.exposure.strategies.dummy is missing",
    ),
    (
        "instruments",
        {"intent": "allocation"},
        "config.instruments.SPY is missing",
    ),
]


def test_a_partial_config_names_what_is_missing(make_worker, flat_sim, results, trading_config):
    worker = make_worker(flat_sim)
    for drop, body, words in PARTIAL:
        config = copy.deepcopy(TEST_CONFIG)
        if drop == "instruments":
            del config["instruments"]["SPY"]
            config["marketData"]["instruments"] = ["TLT"]  # else the config is not even valid
        elif drop == "exposure":
            config["exposure"]["strategies"] = {"static-weights": 1}
        else:
            del config[drop]
        trading_config.replace(config)
        intent_id = unique("cfg")
        worker.handle(delivery({"id": intent_id, **body}))
        result = results.for_id(intent_id)
        assert (result["status"], result["error"]["code"]) == ("failed", "config-missing"), drop
        assert words in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}


def test_a_dry_run_needs_no_risk_limits_but_orders_do(
    make_worker, flat_sim, results, trading_config
):
    config = copy.deepcopy(TEST_CONFIG)
    del config["riskLimits"]
    trading_config.replace(config)
    worker = make_worker(flat_sim)
    dry = unique("cfg-dry")
    worker.handle(delivery({"id": dry, "intent": "allocation", "params": {"dryRun": True}}))
    assert results.for_id(dry)["status"] == "succeeded"
    assert flat_sim.api.broker.orders == {}


def test_live_orders_need_risk_limits(stack, sim, held, results, trading_config):
    config = copy.deepcopy(TEST_CONFIG)
    del config["riskLimits"]
    trading_config.replace(config)
    live = pipeline(
        stack, GATEWAY_MODE="external", IB_GATEWAY_PORT=str(sim.port), TRADING_MODE="live"
    )
    try:
        intent_id = unique("live-cfg")
        body = {"intent": "close-all", "id": intent_id, "tradingMode": "live"}
        live.handle(delivery(body))
    finally:
        live.session.close()
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "config-missing")
    assert "config.riskLimits.maxNotionalPerOrder" in result["error"]["message"]
    assert sim.api.broker.orders == {}


INVALID = [
    ({"riskLimits.maxNotionalPerOrder": -1}, "config.riskLimits.maxNotionalPerOrder"),
    ({"riskLimit": {"maxOrdersPerIntent": 1}}, "unknown key 'riskLimit'"),
    ({"exposure.strategies.moonshot": 0.5}, "config.exposure.strategies.moonshot"),
]


def test_an_invalid_config_fails_naming_the_key(make_worker, flat_sim, results, trading_config):
    worker = make_worker(flat_sim)
    for change, words in INVALID:
        trading_config.replace(copy.deepcopy(TEST_CONFIG))
        trading_config.change(change)
        intent_id = unique("cfg-bad")
        worker.handle(delivery({"id": intent_id, "intent": "allocation"}))
        result = results.for_id(intent_id)
        assert (result["status"], result["error"]["code"]) == ("failed", "config-invalid")
        assert words in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}
