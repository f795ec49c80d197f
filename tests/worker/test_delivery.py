"""Decoding every delivery shape; anything else is NotADelivery, never an exception."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from hypothesis import given
from hypothesis import strategies as st

from tests.support import envelope, post, unique
from worker.delivery import MESSAGE_ID, Delivery, decode, parse_time, to_ms
from worker.exceptions import NotADelivery

DATA = b'{"intent": "ping"}'
PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"


def cloudevent(data: bytes, message_id: str, attributes: dict | None = None) -> CloudEvent:
    return CloudEvent(
        {
            "type": PUBSUB_EVENT,
            "source": "//pubsub.googleapis.com/projects/p/topics/intents",
            "id": message_id,
        },
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": message_id,
                "attributes": attributes or {},
                "publishTime": "2026-11-23T10:00:00Z",
            },
            "subscription": "projects/p/subscriptions/eventarc-sub",
        },
    )


def test_wrapped_push_camel_case():
    body = envelope(DATA, {"intent": "ping"}, message_id="42", deliveryAttempt=3)
    got = decode({"Content-Type": "application/json"}, json.dumps(body).encode())
    assert got == Delivery(
        message_id="42",
        data=DATA,
        attributes={"intent": "ping"},
        publish_time=got.publish_time,
        delivery_attempt=3,
        subscription="projects/local-ib/subscriptions/test",
        shape="push",
    )
    assert got.publish_time.year == 2026


def test_wrapped_push_snake_case_with_escaped_slashes_as_the_emulator_sends():
    raw = (
        b'{"subscription":"projects\\/p\\/subscriptions\\/s","message":{"publish_time":'
        b'"2026-11-23T04:24:06.989Z","data":"eyJpbnRlbnQiOiJwaW5nIn0=","message_id":"7"},'
        b'"delivery_attempt":2}'
    )
    got = decode({}, raw)
    assert (got.message_id, got.data) == ("7", b'{"intent":"ping"}')
    assert (got.subscription, got.delivery_attempt) == ("projects/p/subscriptions/s", 2)
    assert got.attributes == {}


def test_unwrapped_push_reads_metadata_and_attribute_headers():
    headers = {
        "X-Goog-Pubsub-Message-Id": "9",
        "X-Goog-Pubsub-Subscription-Name": "projects/p/s",
        "X-Goog-Pubsub-Publish-Time": "2026-11-23T10:00:00Z",
        "TradingMode": "live",
        "Intent": "ping",
        "Content-Type": "application/octet-stream",
    }
    got = decode(headers, DATA)
    assert (got.message_id, got.data, got.shape) == ("9", DATA, "push-unwrapped")
    assert got.attributes == {"intent": "ping", "tradingMode": "live"}


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_eventarc_cloudevents(mode):
    event = cloudevent(DATA, "11", {"tradingMode": "paper"})
    headers, body = (to_binary if mode == "binary" else to_structured)(event)
    got = decode(headers, body)
    assert (got.message_id, got.data, got.shape) == ("11", DATA, f"cloudevent-{mode}")
    assert got.attributes == {"tradingMode": "paper"}
    assert got.subscription == "projects/p/subscriptions/eventarc-sub"


def test_bad_base64_is_a_delivery_with_a_problem():
    body = envelope(None, message_id="5")
    body["message"]["data"] = "@@@"
    got = decode({}, json.dumps(body).encode())
    assert got.problem == "message data is not valid base64"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"message": "x"}',
        b'{"message": {"data": "e30="}}',
        b"\xff\xfe",
    ],
)
def test_not_a_delivery(body):
    with pytest.raises(NotADelivery):
        decode({"Content-Type": "application/json"}, body)


def test_malformed_cloudevent_is_not_a_delivery():
    with pytest.raises(NotADelivery):
        decode({"ce-specversion": "1.0", "Content-Type": "application/json"}, b'{"message": {}}')


@given(
    st.binary(max_size=300),
    st.dictionaries(
        st.sampled_from(["content-type", "ce-specversion", "ce-id", "x-goog-pubsub-message-id"]),
        st.text(max_size=20),
    ),
)
def test_arbitrary_input_never_raises_anything_else(body, headers):
    with contextlib.suppress(NotADelivery):
        decode(headers, body)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    )
)
def test_arbitrary_json_envelopes_never_raise_anything_else(value):
    for body in (value, {"message": value}, {"message": {"messageId": "1", "data": value}}):
        with contextlib.suppress(NotADelivery):
            decode({}, json.dumps(body).encode())


@pytest.mark.parametrize(
    "message_id",
    ["X/events/forged", "/", "a//b", "", "7" * 2000, "7" * 101, "123\n", "a b", "é", "\ud800"],
)
def test_a_message_id_that_is_not_a_plain_key_is_not_a_delivery(message_id):
    body = envelope(DATA)
    body["message"]["messageId"] = message_id
    with pytest.raises(NotADelivery) as caught:
        decode({}, json.dumps(body).encode())
    assert str(caught.value) == "Pub/Sub message has no valid messageId"
    with pytest.raises(NotADelivery):
        decode({"X-Goog-Pubsub-Message-Id": message_id}, DATA)


@pytest.mark.parametrize("message_id", [".", "..", "__x__", "7" * 100, "a:b-c.d_e"])
def test_every_plain_message_id_is_a_delivery(message_id):
    assert decode({}, json.dumps(envelope(DATA, message_id=message_id)).encode()).message_id == (
        message_id
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:00:00Z", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("2026-11-23T10:00:00", datetime(2026, 11, 23, 10, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-23T11:00:00+01:00", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-13-01T00:00:00Z", None),
        ("yesterday", None),
        ("", None),
        (12, None),
        (None, None),
        (["2026-11-23T10:00:00Z"], None),
    ],
)
def test_publish_times(text, expected):
    parsed = parse_time(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None
        to_ms(parsed)  # every parsed time has a millisecond count


def test_a_cloudevent_without_a_message_id_is_delivered_under_the_event_id():
    event = cloudevent(DATA, "31")
    del event.data["message"]["messageId"]
    assert decode(*to_structured(event)).message_id == "31"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["", "\ud800", "9999-12-31T23:59:59", "X/events/forged", "1\n"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "messageId": json_values | st.just("1"),
            "message_id": json_values | st.just("2"),
            "data": json_values | st.just("e30="),
            "attributes": json_values | st.dictionaries(st.text(max_size=5), json_values),
            "publishTime": json_values,
            "publish_time": json_values,
        },
    ),
    json_values,
)
def test_any_message_fields_are_a_delivery_of_plain_values_or_not_a_delivery(message, attempt):
    body = {"message": message, "deliveryAttempt": attempt}
    try:
        got = decode({}, json.dumps(body).encode())
    except NotADelivery as exc:
        assert exc.args == (str(exc),) and len(str(exc)) < 80
        return
    assert MESSAGE_ID.fullmatch(got.message_id)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in got.attributes.items())
    assert got.publish_time is None or got.publish_time.tzinfo is not None
    assert got.delivery_attempt is None or isinstance(got.delivery_attempt, int)


def below(frames: int, call):
    """Call from `frames` deeper in the stack, as the server does (recursion limits differ)."""
    return call() if frames == 0 else below(frames - 1, call)


CLOUDEVENT = {"ce-specversion": "1.0", "ce-id": "1", "ce-type": "t", "ce-source": "s"}


@pytest.mark.parametrize("frames", [0, 40, 80, 120])
def test_nesting_at_any_depth_is_a_delivery_or_not_never_a_crash(frames):
    for depth in range(850, 1010, 3):
        nested = "[" * depth + "]" * depth
        for body in (
            nested,
            f'{{"message":{{"messageId":"1","attributes":{{"a":{nested}}}}}}}',
            f'{{"message":{{"messageId":{nested}}}}}',
            f'{{"message":{{"messageId":"1","publishTime":{nested},"data":{nested}}}}}',
        ):
            for headers in ({}, CLOUDEVENT):
                with contextlib.suppress(NotADelivery):
                    below(frames, lambda h=headers, b=body: decode(h, b.encode()))


@pytest.mark.parametrize("shape", ["binary", "structured", "unwrapped"])
def test_every_shape_runs_through_the_worker(stack, results, shape):
    intent_id = unique(shape)
    data = json.dumps({"intent": "ping", "id": intent_id}).encode()
    if shape == "unwrapped":
        headers = {"X-Goog-Pubsub-Message-Id": unique("m"), "intent": "ping"}
        body = data
    else:
        headers, body = (to_binary if shape == "binary" else to_structured)(
            cloudevent(data, unique("m"))
        )
    status, answer = post(stack, body, dict(headers))
    assert (status, answer["status"]) == (200, "succeeded")
    assert results.for_id(intent_id)["status"] == "succeeded"
