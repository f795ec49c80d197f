"""Stale prices: which prices may size an order, at IB's time, by the trading config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.trading.price_age import (
    DEFAULT_MAX_AGE_SECONDS,
    DELAY_SECONDS,
    Observed,
    PricePolicy,
    refusal,
    stale,
)

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
LIVE = PricePolicy()


def seen(age: float | None, data_type="live", source="last", name="SPY") -> Observed:
    at = None if age is None else NOW - timedelta(seconds=age)
    return Observed(name, data_type, source, at)


def test_the_policy_comes_from_the_config_with_a_default() -> None:
    assert PricePolicy.of({}) == PricePolicy(DEFAULT_MAX_AGE_SECONDS, False, "live")
    config = {"maxPriceAgeSeconds": 30, "allowStalePrices": True, "marketDataType": "delayed"}
    assert PricePolicy.of(config) == PricePolicy(30.0, True, "delayed")


def test_a_live_last_price_older_than_the_limit_is_stale() -> None:
    assert stale(seen(DEFAULT_MAX_AGE_SECONDS), NOW, LIVE) is None
    reason = stale(seen(DEFAULT_MAX_AGE_SECONDS + 1), NOW, LIVE)
    assert reason == "SPY: live last price is 301 s old (limit 300 s)"


def test_a_live_quote_is_current_whatever_the_last_trade() -> None:
    assert stale(seen(86_400, source="midpoint"), NOW, LIVE) is None
    inside_the_quote = Observed("SPY", "live", "last", NOW - timedelta(hours=1), quoted=True)
    assert stale(inside_the_quote, NOW, LIVE) is None
    frozen_quote = Observed("SPY", "frozen", "last", NOW - timedelta(hours=1), quoted=True)
    assert "3600 s old" in stale(frozen_quote, NOW, LIVE)  # a closed market's last quote
    assert stale(seen(None), NOW, LIVE) is None  # a live price without IB's trade time


def test_a_frozen_price_is_as_old_as_its_trade_and_unknown_is_refused() -> None:
    assert stale(seen(60, "frozen"), NOW, LIVE) is None
    friday_close = seen(2 * 86_400, "frozen", "midpoint")
    assert "frozen midpoint price is 172800 s old" in stale(friday_close, NOW, LIVE)
    assert "without IB's trade time" in stale(seen(None, "frozen"), NOW, LIVE)


def test_delayed_data_needs_the_config_to_ask_for_it_and_gets_the_delay_on_top() -> None:
    assert "config.marketDataType is live" in stale(seen(900, "delayed"), NOW, LIVE)
    delayed = PricePolicy(asked="delayed")
    assert stale(seen(DELAY_SECONDS + 300, "delayed"), NOW, delayed) is None
    assert "limit 1500 s" in stale(seen(DELAY_SECONDS + 301, "delayed"), NOW, delayed)
    assert stale(seen(900, "delayed-frozen"), NOW, PricePolicy(asked="delayed-frozen")) is None


def test_the_previous_close_is_refused() -> None:
    assert "previous close" in stale(seen(None, source="close"), NOW, LIVE)


@given(
    age=st.one_of(st.none(), st.floats(-1e6, 1e9)),
    data_type=st.sampled_from(["live", "frozen", "delayed", "delayed-frozen"]),
    source=st.sampled_from(["last", "midpoint", "close"]),
    asked=st.sampled_from(["live", "frozen", "delayed", "delayed-frozen"]),
    limit=st.floats(1, 1e6),
)
def test_allowing_stale_prices_accepts_every_price_and_nothing_else_does(
    age, data_type, source, asked, limit
) -> None:
    price = seen(age, data_type, source)
    assert stale(price, NOW, PricePolicy(limit, True, asked)) is None
    if age is not None and age > limit + DELAY_SECONDS:  # older than any limit
        assert stale(price, NOW, PricePolicy(limit, False, asked)) is not None or (
            data_type == "live" and source == "midpoint"
        )


def test_the_refusal_names_every_stale_price_and_the_way_out() -> None:
    found = [seen(10), seen(4000, name="TLT"), seen(None, "frozen", name="QQQ")]
    message = refusal(found, NOW, LIVE)
    assert message is not None and "SPY" not in message
    assert "TLT: live last price is 4000 s old" in message and "QQQ: frozen" in message
    assert "config.allowStalePrices: true" in message
    assert refusal([seen(10)], NOW, LIVE) is None


@pytest.mark.parametrize("bad", [{"maxPriceAgeSeconds": None}, {"allowStalePrices": None}])
def test_unset_values_mean_the_defaults(bad) -> None:
    assert PricePolicy.of(bad) == PricePolicy()
