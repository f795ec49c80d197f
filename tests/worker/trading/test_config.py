"""The trading config's checks: schema errors naming the key, references, missing keys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.exceptions import IntentFailed
from worker.trading.config import errors, merge, require, require_risk_limits

KNOWN = ["dummy", "static-weights"]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"riskLimit": {}}, "config: unknown key 'riskLimit'"),
        ({"riskLimits": {"maxNotionalPerOrder": -5}}, "config.riskLimits.maxNotionalPerOrder"),
        ({"riskLimits": {"maxOrdersPerIntent": 2.5}}, "config.riskLimits.maxOrdersPerIntent"),
        ({"exposure": {"overall": "half"}}, "config.exposure.overall: 'half' is not of type"),
        ({"instruments": {"SPY": {"secType": "STK"}}}, "config.instruments.SPY: 'symbol'"),
        ({"marketData": {"duration": "999999999 Y"}}, "config.marketData.duration"),
        ({"adaptivePriority": "Fast"}, "config.adaptivePriority"),
        ({"exposure": {"strategies": {"moonshot": 1}}}, "no strategy 'moonshot' is registered"),
        ({"marketData": {"instruments": ["QQQ"]}}, "config.marketData.instruments[0]: 'QQQ'"),
    ],
)
def test_every_problem_names_its_key(config, words):
    found = errors(config, KNOWN)
    assert found and words in found[0], found


def test_the_shipped_shape_is_valid_and_an_empty_config_too():
    config = {
        "instruments": {"SPY": {"symbol": "SPY", "secType": "STK", "currency": "USD"}},
        "exposure": {"overall": 0.5, "strategies": {"static-weights": 1}},
        "strategies": {"static-weights": {"weights": {"SPY": 1}}},
        "riskLimits": {
            "maxNotionalPerOrder": 1,
            "maxNotionalPerIntent": 2,
            "maxOrdersPerIntent": 3,
        },
        "marketData": {"instruments": ["SPY"], "duration": "1 M"},
    }
    assert errors(config, KNOWN) == []
    assert errors({}, KNOWN) == []


def test_require_names_the_missing_key():
    config = {"exposure": {"overall": 0, "strategies": {}}}
    assert require(config, "exposure.overall") == 0
    for path in ("exposure.strategies", "exposure.strategies.dummy", "riskLimits.x", "a.b.c"):
        with pytest.raises(IntentFailed) as missing:
            require(config, path)
        assert missing.value.code == "config-missing" and f"config.{path} is missing" in str(
            missing.value
        )
    with pytest.raises(IntentFailed, match=r"config\.riskLimits\.maxNotionalPerIntent"):
        require_risk_limits({"riskLimits": {"maxNotionalPerOrder": 1}})


def test_the_mode_wins_key_by_key():
    common = {"riskLimits": {"maxOrdersPerIntent": 5, "maxNotionalPerOrder": 10}, "x": [1]}
    live = {"riskLimits": {"maxOrdersPerIntent": 1}, "x": [2]}
    assert merge(common, live) == {
        "riskLimits": {"maxOrdersPerIntent": 1, "maxNotionalPerOrder": 10},
        "x": [2],
    }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(deadline=None)  # a loaded machine must not fail it
@given(st.dictionaries(st.sampled_from(["riskLimits", "exposure", "instruments", "x"]), JSON))
def test_any_document_is_either_valid_or_named_wrong(config):
    for problem in errors(config, KNOWN):
        assert problem.startswith("config")
