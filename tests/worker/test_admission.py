"""Which message a delivery carries (worker/admission.py): ours and valid, the other trading
mode's, or a rejection with only what can be told of it. No emulator: the settings and bytes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from worker.admission import OtherMode, Refusal, admit
from worker.delivery import Delivery
from worker.message import IntentMessage
from worker.settings import Settings

PAPER = Settings.from_env({"TRADING_MODE": "paper"})
LIVE = Settings.from_env({"TRADING_MODE": "live"})


def _delivery(body: object, **attributes: str) -> Delivery:
    return Delivery("m-1", json.dumps(body).encode(), dict(attributes))


def test_a_valid_ping_is_admitted_as_its_message():
    admitted = admit(_delivery({"intent": "ping", "id": "p-1"}), PAPER)
    assert isinstance(admitted, IntentMessage)
    assert (admitted.id, admitted.intent, admitted.trading_mode) == ("p-1", "ping", "paper")


def test_the_other_mode_s_message_is_left_to_its_worker_even_when_it_is_invalid():
    assert admit(_delivery({"intent": "ping"}, tradingMode="live"), PAPER) == OtherMode("live")
    assert admit(_delivery("not an object", tradingMode="live"), PAPER) == OtherMode("live")
    # without an attribute the body decides; unreadable, it belongs to the default mode (paper)
    assert admit(_delivery({"intent": "ping", "tradingMode": "live"}), PAPER) == OtherMode("live")
    assert admit(Delivery("m-2", b"\xff not json"), LIVE) == OtherMode("paper")


def test_a_rejection_keeps_only_a_plain_intent_name_and_a_short_requester():
    body = {"intent": "No Such\nIntent", "id": "bad id!", "requestedBy": "x" * 201}
    refused = admit(_delivery(body), PAPER)
    assert isinstance(refused, Refusal)
    assert refused.message.intent == "" and refused.message.requested_by is None
    assert refused.message.id == "m-1"  # the message id stands in for an unusable id
    too_large = admit(Delivery("m-3", b"x" * (PAPER.max_message_bytes + 1)), PAPER)
    assert isinstance(too_large, Refusal) and too_large.error.code == "too-large"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["intent", "id", "params", "tradingMode", "requestedBy", "x"]), inner
        )
    ),
    max_leaves=12,
)


@given(
    st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["tradingMode", "intent", "id"]), st.text(max_size=20)),
)
def test_any_delivery_is_admitted_refused_or_left_to_the_other_mode_never_raises(data, attrs):
    admitted = admit(Delivery("m-9", data, attrs), PAPER)
    assert isinstance(admitted, IntentMessage | OtherMode | Refusal)
    if isinstance(admitted, IntentMessage):
        assert admitted.trading_mode == "paper"
    if isinstance(admitted, Refusal):
        assert admitted.message.trading_mode == "paper"
        assert len(admitted.message.intent) <= 64
