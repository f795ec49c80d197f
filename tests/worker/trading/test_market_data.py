"""Prices from the simulator: the configured market data type is asked for, and a missing
market-data permission fails at once (not retryable), naming each instrument and what to do."""

from __future__ import annotations

import ib_async
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.exceptions import IntentFailed
from worker.trading import config as trading_config
from worker.trading import market


def stocks(ib, *symbols):
    return ib.qualifyContracts(*(ib_async.Stock(s, "SMART", "USD") for s in symbols))


def test_a_permission_error_fails_at_once_naming_the_instrument(ib):
    ib.sim.call("POST", "/faults", {"no_market_data": ["TLT"]})
    market.request_data_type(ib, {})
    with pytest.raises(IntentFailed) as failed:
        market.prices(ib, stocks(ib, "SPY", "TLT"))
    assert failed.value.code == "market-data-permission"
    assert failed.value.retryable is False
    text = str(failed.value)
    assert "TLT: IB error 354" in text
    assert "SPY" not in text
    assert "subscribe" in text and "marketDataType" in text


def test_every_refused_instrument_is_named(ib):
    ib.sim.call("POST", "/faults", {"no_market_data": ["TLT", "QQQ"]})
    with pytest.raises(IntentFailed) as failed:
        market.prices(ib, stocks(ib, "SPY", "TLT", "QQQ"))
    assert "QQQ: IB error 354" in str(failed.value)
    assert "TLT: IB error 354" in str(failed.value)


def test_delayed_data_prices_an_unsubscribed_instrument(ib):
    ib.sim.call("POST", "/faults", {"no_market_data": ["TLT"]})
    assert market.request_data_type(ib, {"marketDataType": "delayed"}) == "delayed"
    (tlt,) = stocks(ib, "TLT")
    assert market.prices(ib, [tlt])[tlt.conId] > 0
    # back to live on the same connection (the next intent's config): refused again
    market.request_data_type(ib, {"marketDataType": "live"})
    with pytest.raises(IntentFailed) as again:
        market.prices(ib, [tlt])
    assert again.value.code == "market-data-permission"


@given(
    st.dictionaries(
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=8),
        st.tuples(st.sampled_from(sorted(market.PERMISSION_ADVICE)), st.text(max_size=20)),
        max_size=5,
    )
)
def test_the_problem_names_each_refused_instrument_with_advice(refused):
    problem = market.permission_problem(refused)
    if not refused:
        assert problem is None
        return
    for name, (code, _) in refused.items():
        assert f"{name}: IB error {code} (" in problem
    assert problem.count("subscribe") >= len(refused)


@pytest.mark.parametrize("value", ["live", "frozen", "delayed", "delayed-frozen"])
def test_the_config_takes_each_market_data_type(value):
    assert not [
        e for e in trading_config.errors({"marketDataType": value}, []) if "marketData" in e
    ]
    assert value in market.MARKET_DATA_TYPES


@pytest.mark.parametrize("value", ["Live", "realtime", 1, "", None])
def test_the_config_refuses_other_market_data_types(value):
    problems = trading_config.errors({"marketDataType": value}, [])
    assert any(p.startswith("config.marketDataType") for p in problems)


def test_each_price_says_its_type(ib):
    ib.sim.call("POST", "/faults", {"no_market_data": ["TLT"]})
    spy, tlt = stocks(ib, "SPY", "TLT")
    sized_on: dict[int, str] = {}
    market.request_data_type(ib, {"marketDataType": "delayed"})
    market.prices(ib, [tlt], sized_on)
    market.request_data_type(ib, {})
    market.prices(ib, [spy], sized_on)
    assert sized_on[tlt.conId].startswith("delayed ")
    assert sized_on[spy.conId].startswith("live ")
    assert {t.split()[1] for t in sized_on.values()} <= {"midpoint", "last", "close"}


@pytest.mark.parametrize(
    ("bid", "last", "ask", "data_type", "closed", "said"),
    [
        (99.0, 100.0, 101.0, 1, False, "live last"),  # last within the spread
        (99.0, 105.0, 101.0, 3, False, "delayed midpoint"),  # last outside it
        (float("nan"), 100.0, float("nan"), 2, False, "frozen last"),  # no bid and ask
        (float("nan"), float("nan"), float("nan"), 4, True, "delayed-frozen close"),
    ],
)
def test_price_type_follows_what_market_price_took(bid, last, ask, data_type, closed, said):
    ticker = ib_async.Ticker(marketDataType=data_type)
    ticker.bid, ticker.last, ticker.ask, ticker.bidSize, ticker.askSize = bid, last, ask, 100, 100
    taken = ticker.marketPrice()
    assert (taken != taken) is closed  # NaN exactly when prices() falls back to the close
    assert market.price_type(ticker, closed) == said
