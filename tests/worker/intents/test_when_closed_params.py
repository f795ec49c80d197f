"""whenClosed on receipt: the three policies pass for each order-placing intent (and a batch
step); anything else is refused before any gateway is asked (no gateway here)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import worker.intents  # noqa: F401 - registers the plugins
from worker import intent_registry
from worker.exceptions import Rejected
from worker.message import validate
from worker.settings import Settings
from worker.trading.market_hours import WHEN_CLOSED

SCHEMAS = Settings().schemas_dir
PLACING = ("allocation", "close-all", "cash-balancer")


def check(body: dict):
    return validate(
        body, {}, message_id="mid", known_intents=intent_registry.names(), schemas_dir=SCHEMAS
    )


@pytest.mark.parametrize("intent", PLACING)
@pytest.mark.parametrize("policy", WHEN_CLOSED)
def test_each_policy_is_accepted(intent, policy):
    check({"intent": intent, "params": {"whenClosed": policy}})
    check(
        {
            "intent": "batch",
            "params": {"steps": [{"intent": intent, "params": {"whenClosed": policy}}]},
        }
    )


@pytest.mark.parametrize("intent", PLACING)
@given(value=st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.lists(st.text())))
def test_anything_else_is_refused_naming_the_field(intent, value):
    if value in WHEN_CLOSED:
        return
    with pytest.raises(Rejected) as refused:
        check({"intent": intent, "params": {"whenClosed": value}})
    assert refused.value.code == "bad-params"
    assert "whenClosed" in str(refused.value)
