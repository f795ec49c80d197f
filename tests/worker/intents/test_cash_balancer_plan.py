"""cash-balancer's decision (`plan`), with no gateway: lots, rounding, working conversions."""

from __future__ import annotations

import ib_async
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.intents.cash_balancer import Balance, plan

EURUSD = ib_async.Forex("EURUSD")
USDCHF = ib_async.Forex("USDCHF")


def orders(order_plan) -> dict[str, tuple[str, float]]:
    return {o.order_ref.rsplit(":", 1)[1]: (o.action, o.quantity) for o in order_plan.orders}


def test_direct_and_indirect_pairs_in_whole_lots_rounded_towards_zero():
    got = plan(
        "c1",
        "USD",
        5000,
        [
            Balance("EUR", 12_000, 1.08, EURUSD, direct=True),
            Balance("CHF", 8_000, 1.12, USDCHF, direct=False),  # 8,960 USD
        ],
    )
    # CHF 8,000 buys USD 8,000 (CHF 7,143), never USD 9,000 (CHF 8,036: more than there is).
    assert orders(got) == {"EUR": ("SELL", 12_000), "CHF": ("BUY", 8_000)}
    assert got.report["balances"]["CHF"] == {"balance": 8000, "inBase": 8960.0}


def test_below_the_threshold_and_below_one_lot_nothing_is_converted():
    got = plan(
        "c1",
        "USD",
        5000,
        [
            Balance("EUR", 4_000, 1.08, EURUSD, direct=True),  # 4,320 USD: below
            Balance("CHF", 900, 1.12, USDCHF, direct=False),
        ],
    )
    assert got.orders == []


def test_a_negative_balance_is_bought_back_never_more_than_owed():
    got = plan("c1", "USD", 1000, [Balance("EUR", -2_500, 1.08, EURUSD, direct=True)])
    assert orders(got) == {"EUR": ("BUY", 2_000)}


def test_a_working_conversion_is_not_converted_again():
    # SELL 12,000 EUR.USD filled half: the balance shows 6,000, the other 6,000 is still working.
    half = Balance("EUR", 6_000, 1.08, EURUSD, direct=True, working=-6_000)
    # BUY 8,000 USD.CHF filled half: CHF 8,000 - 4,000 x 0.89; 4,000 USD still to buy.
    chf = Balance("CHF", 4_440, 1.12, USDCHF, direct=False, working=4_000)
    got = plan("c2", "USD", 500, [half, chf])
    assert got.orders == []
    assert got.report["balances"]["EUR"]["afterWorking"] == 0


@settings(deadline=None)
@given(
    amount=st.floats(-1e7, 1e7, allow_nan=False),
    rate=st.floats(0.01, 200),
    direct=st.booleans(),
    working=st.floats(-1e6, 1e6, allow_nan=False),
)
def test_never_converts_more_than_there_is(amount, rate, direct, working):
    balance = Balance("XXX", amount, rate, EURUSD, direct=direct, working=working)
    left = balance.left()
    for order in plan("p", "USD", 0, [balance]).orders:
        sign = 1 if order.action == "BUY" else -1
        # What the order takes from the currency, in the currency (the base costs 1/rate each).
        taken = -sign * order.quantity if direct else sign * order.quantity / rate
        assert abs(taken) <= abs(left) + 1e-6 and taken * left >= 0
        assert order.quantity % 1000 == 0 and order.quantity > 0
