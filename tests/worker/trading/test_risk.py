"""Risk limits, checked before the first order (no gateway)."""

from __future__ import annotations

import ib_async
import pytest

from worker.exceptions import IntentFailed
from worker.trading.order_plan import OrderRequest
from worker.trading.risk import RiskLimits, check_limits

SPY = ib_async.Contract(conId=756733, symbol="SPY")
ES = ib_async.Contract(conId=1, symbol="ES", localSymbol="ESZ6", multiplier="50")


def order(contract, quantity, price, multiplier=1.0) -> OrderRequest:
    return OrderRequest(contract, "BUY", quantity, f"i:1:{contract.conId}", price, multiplier)


LIMITS = RiskLimits.from_config(
    {
        "riskLimits": {
            "maxNotionalPerOrder": 10_000,
            "maxNotionalPerIntent": 15_000,
            "maxOrdersPerIntent": 2,
            "allowedInstruments": ["SPY", "ES"],
        }
    }
)


@pytest.mark.parametrize(
    ("orders", "earlier", "words"),
    [
        ([order(SPY, 21, 500)], [], "maxNotionalPerOrder"),
        ([order(ES, 1, 5000, 50)], [], "is 250,000 notional, over maxNotionalPerOrder"),
        ([order(SPY, 19, 500), order(SPY, 19, 500)], [], "19,000 notional exceeds"),
        ([order(SPY, 1, 5)], [order(SPY, 1, 5), order(SPY, 1, 5)], "with 2 of earlier steps"),
        ([order(ib_async.Contract(conId=2, symbol="TSLA"), 1, 1)], [], "TSLA is not in"),
    ],
)
def test_a_breach_fails_naming_the_limit_and_is_not_retried(orders, earlier, words):
    with pytest.raises(IntentFailed) as failed:
        check_limits(orders, LIMITS, earlier)
    assert failed.value.code == "risk-limit" and not failed.value.retryable
    assert words in str(failed.value)


def test_within_the_limits_nothing_happens_and_absent_limits_check_nothing():
    check_limits([order(SPY, 19, 500)], LIMITS)
    check_limits([order(ES, 100, 5000, 50)] * 50, RiskLimits.from_config({}))


@pytest.mark.parametrize("price", [float("nan"), 0.0, -1.0, float("inf")])
def test_an_order_without_a_usable_price_breaches_every_limit(price):
    with pytest.raises(IntentFailed, match="no usable price") as failed:
        check_limits([order(SPY, 1, price)], LIMITS)
    assert (failed.value.code, failed.value.retryable) == ("risk-limit", False)
