"""Each bad input of issue 13, through the real emulators and the real worker (gunicorn): it
ends in exactly one result (`rejected` for a message that can never run) or, for what is not a
Pub/Sub delivery at all, a short stable 400; nothing is retried, nothing is dead-lettered.

Raw HTTP (chunked bodies, huge and slow bodies) is in test_http_entry.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from tests.support import Results, envelope, intent_ref, post, publish, record, unique
from tests.worker.hostile import (
    DeadLetters,
    Shape,
    assert_nothing_outside_intent_records,
    assert_stable_400,
    crashes,
    firestore_shape,
    log_lines,
    log_offset,
    raw,
    request_head,
    said_about,
    settle,
)
from worker.message import ID_PATTERN

DEEP = 5000


def deep_params(opening: bytes = b"[", closing: bytes = b"]", depth: int = DEEP) -> bytes:
    return b'{"intent":"ping","params":' + opening * depth + b"1" + closing * depth + b"}"


# -- through Pub/Sub ----------------------------------------------------------------------------

# case -> (message data, attributes, expected status, expected error code or None)
PUBSUB_CASES: dict[str, tuple[bytes, dict[str, str], str, str | None]] = {
    "json nested 5000 deep, unterminated": (
        b'{"intent":"ping","params":' + b"[" * DEEP,
        {},
        "rejected",
        "invalid-json",
    ),
    "json nested 5000 deep in arrays": (deep_params(), {}, "rejected", "invalid-json"),
    "json nested 5000 deep in objects": (
        deep_params(b'{"a":', b"}"),
        {},
        "rejected",
        "invalid-json",
    ),
    "ttlSeconds 10^12": (b'{"intent":"ping","ttlSeconds":1000000000000}', {}, "rejected", "schema"),
    "ttlSeconds 10^30": (
        b'{"intent":"ping","ttlSeconds":1' + b"0" * 30 + b"}",
        {},
        "rejected",
        "schema",
    ),
    "ttlSeconds 10^400": (
        b'{"intent":"ping","ttlSeconds":1' + b"0" * 400 + b"}",
        {},
        "rejected",
        "schema",
    ),
    "ttlSeconds 1e400 (infinite)": (
        b'{"intent":"ping","ttlSeconds":1e400}',
        {},
        "rejected",
        "schema",
    ),
    "ttlSeconds -10^30": (
        b'{"intent":"ping","ttlSeconds":-1' + b"0" * 30 + b"}",
        {},
        "rejected",
        "schema",
    ),
    "ttlSeconds of 30 days, the maximum": (
        b'{"intent":"ping","ttlSeconds":2592000}',
        {},
        "succeeded",
        None,
    ),
    "expiresAt in year 9999": (
        b'{"intent":"ping","expiresAt":"9999-12-31T23:59:59.999999Z"}',
        {},
        "succeeded",
        None,
    ),
    "a lone surrogate in requestedBy": (
        b'{"intent":"ping","requestedBy":"\\ud800"}',
        {},
        "rejected",
        "invalid-json",
    ),
    # `.` and `..` are refused (a browser resolves them as a link's path segment): the rejection
    # ends under the message id.
    "id .": (b'{"intent":"ping","id":"."}', {}, "rejected", "schema"),
    "id ..": (b'{"intent":"ping","id":".."}', {}, "rejected", "schema"),
    "id __x__": (b'{"intent":"ping","id":"__x__"}', {}, "succeeded", None),
    "id ...": (b'{"intent":"ping","id":"..."}', {}, "succeeded", None),
    "attribute id __y__": (b'{"intent":"ping"}', {"id": "__y__"}, "succeeded", None),
    "id __.__": (b'{"intent":"ping","id":"__.__"}', {}, "succeeded", None),
}


def case_id(data: bytes, attributes: dict[str, str], message_id: str) -> str:
    """The intent id a case ends under: the valid id it names, else its message id."""
    try:
        named = json.loads(data).get("id")
    except (ValueError, RecursionError):
        named = None
    valid = [i for i in (named, attributes.get("id")) if i and ID_PATTERN.fullmatch(i)]
    return valid[0] if valid else message_id


@pytest.fixture(scope="module")
def through_pubsub(stack, db) -> Iterator[dict[str, Any]]:
    """Publish every case at once on `intents`, wait for their results, then wait a while more
    for any redelivery, second result or dead letter."""
    tap, dead = Results(stack), DeadLetters(stack)
    offset, before = log_offset(stack), firestore_shape(db)
    try:
        published = {}
        for case, (data, attributes, _, _) in PUBSUB_CASES.items():
            named = case_id(data, attributes, "")
            if named:  # the fixed ids of the issue: a record left by an earlier run would answer
                db.recursive_delete(intent_ref(db, named))
            message_id = publish(stack, data, **attributes)
            published[case] = (case_id(data, attributes, message_id), message_id)
        for intent_id, _ in published.values():
            tap.for_id(intent_id, timeout=60)
        settle(5)  # longer than the stack's backoff (1-2 s): a nacked message would be back
        results = {
            case: tap.all_for(intent_id, settle=0.5) for case, (intent_id, _) in published.items()
        }
        needles = [x for pair in published.values() for x in pair if len(x) > 3]
        yield {
            "published": published,
            "results": results,
            "log": log_lines(stack, offset),
            "dead letters": dead.about(needles),
            "before": before,
        }
    finally:
        tap.close()
        dead.close()


@pytest.mark.parametrize("case", list(PUBSUB_CASES))
def test_through_pubsub_each_case_ends_in_one_result_delivered_once(through_pubsub, db, case):
    _, _, status, code = PUBSUB_CASES[case]
    intent_id, message_id = through_pubsub["published"][case]
    [result] = through_pubsub["results"][case]
    assert result["status"] == status, result
    assert (result["error"] or {}).get("code") == code, result["error"]
    if status == "rejected":
        assert result["error"]["retryable"] is False
        assert len(result["error"]["message"]) < 2000  # says what is wrong, not the message
    said = said_about(through_pubsub["log"], message_id)
    decided = [s for s in said if s.startswith(("message rejected", f"intent {intent_id} "))]
    assert len(decided) == 1, said  # delivered once: acked the first time
    assert not [s for s in said if s.startswith("duplicate delivery")], said
    saved = record(db, intent_id)
    assert saved["status"] == status and saved["resultPublished"] is True


def test_through_pubsub_nothing_is_dead_lettered_or_written_elsewhere(through_pubsub, db):
    assert through_pubsub["dead letters"] == []
    assert crashes(through_pubsub["log"]) == []
    assert_nothing_outside_intent_records(db, through_pubsub["before"])


# -- straight to the HTTP endpoint: deep JSON -----------------------------------------------------

PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"


def cloudevent(data: bytes, message_id: str, mode: str) -> tuple[dict[str, str], bytes]:
    event = CloudEvent(
        {"type": PUBSUB_EVENT, "source": "//pubsub.googleapis.com/x", "id": message_id},
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": message_id,
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": "projects/p/subscriptions/eventarc",
        },
    )
    headers, body = (to_binary if mode == "binary" else to_structured)(event)
    return dict(headers), body


@pytest.mark.parametrize(
    "shape", ["push", "unwrapped", "cloudevent-binary", "cloudevent-structured"]
)
@pytest.mark.parametrize(
    "data", [deep_params(), deep_params(b'{"a":', b"}")], ids=["arrays", "objects"]
)
def test_deep_message_data_in_every_shape_is_rejected_once(stack, results, shape, data):
    message_id = unique("deep")
    if shape == "push":
        headers, body = {}, json.dumps(envelope(data, message_id=message_id)).encode()
    elif shape == "unwrapped":
        headers, body = {"X-Goog-Pubsub-Message-Id": message_id}, data
    else:
        headers, body = cloudevent(data, message_id, shape.removeprefix("cloudevent-"))
    for _ in range(2):  # and a redelivery publishes nothing new
        status, answer = post(stack, body, headers)
        assert (status, answer["status"]) == (200, "rejected"), answer
    [result] = results.all_for(message_id)
    assert result["error"]["code"] == "invalid-json"
    assert result["error"]["message"] == "message data is nested too deeply"


@pytest.mark.parametrize(
    "depth", [100, 400, 800, 900, 940, 960, 970, 975, 980, 985, 990, 995, 999, 1000, 1200]
)
def test_message_data_at_any_depth_gets_an_answer_not_a_crash(stack, depth):
    """Around the interpreter's recursion limit, where parsing succeeds and checking it or
    writing it down may not."""
    for data in (deep_params(depth=depth), deep_params(b'{"a":', b"}", depth=depth)):
        message_id = unique("depth")
        status, answer = post(stack, envelope(data, message_id=message_id))
        assert (status, answer.get("status")) == (200, "rejected"), answer


@pytest.mark.parametrize("depth", [500, 900, 950, 980, 990, 1000, 5000, 100_000])
def test_a_deep_envelope_is_not_a_delivery(stack, depth):
    """Nesting in the envelope itself (attributes, unknown fields) or the whole body."""
    nested = "[" * depth + "]" * depth
    bodies = [
        nested.encode(),
        f'{{"message":{{"messageId":"{unique("m")}","attributes":{{"a":{nested}}}}}}}'.encode(),
        f'{{"message":{{"messageId":{nested}}}}}'.encode(),
        f'{{"message":{{"messageId":"{unique("m")}","x":{nested}}},"s":{nested}}}'.encode(),
    ]
    for body in bodies:
        status, answer = post(stack, body)
        assert status in (200, 400), (status, answer)
        if status == 400:
            assert answer["error"] in {
                "request body is not JSON and carries no Pub/Sub headers",
                "expected a JSON object with a 'message' object (Pub/Sub push)",
                "Pub/Sub message has no valid messageId",
            }, answer
    for mode in ("binary", "structured"):
        headers, _ = cloudevent(b"{}", unique("m"), mode)
        assert_stable_400(raw(stack, with_body(headers, nested.encode())))


def with_body(headers: dict[str, str], body: bytes, path: str = "/") -> bytes:
    return request_head({**headers, "Content-Length": str(len(body))}, path=path) + body


# -- straight to the HTTP endpoint: message ids -------------------------------------------------

ODD_MESSAGE_IDS = {
    "forged path": "X/events/forged",
    "slash": "/",
    "double slash": "a//b",
    "leading slash": "/intents/x",
    "trailing slash": "x/",
    "empty": "",
    "2000 characters": "7" * 2000,
    "101 characters": "7" * 101,
    "space": "a b",
    "newline at the end": "123\n",
    "unicode": "é",
    "NUL": "a\x00b",
}


@pytest.mark.parametrize("message_id", ODD_MESSAGE_IDS.values(), ids=list(ODD_MESSAGE_IDS))
@pytest.mark.parametrize("shape", ["camelCase", "snake_case", "unwrapped", "cloudevent"])
def test_an_odd_message_id_is_not_a_delivery_and_writes_nothing(stack, db, message_id, shape):
    before: Shape = firestore_shape(db)
    data = json.dumps({"intent": "ping"}).encode()
    if shape == "unwrapped":
        if "\n" in message_id or "\x00" in message_id or not message_id.isascii():
            pytest.skip("not a value an HTTP header can carry")
        reply = raw(stack, with_body({"X-Goog-Pubsub-Message-Id": message_id}, data))
    elif shape == "cloudevent":
        if not message_id:
            pytest.skip("a CloudEvent without a messageId is delivered under the event's id")
        headers, _ = cloudevent(data, "1", "binary")
        body = json.dumps(
            {"message": {"data": base64.b64encode(data).decode(), "messageId": message_id}}
        )
        headers["ce-id"] = "ce-" + unique("m")
        reply = raw(stack, with_body(headers, body.encode()))
    else:
        key = "messageId" if shape == "camelCase" else "message_id"
        body = {"message": {key: message_id, "data": base64.b64encode(data).decode()}}
        reply = raw(
            stack, with_body({"Content-Type": "application/json"}, json.dumps(body).encode())
        )
    assert_stable_400(reply)
    assert reply.json()["error"] == "Pub/Sub message has no valid messageId"
    after = assert_nothing_outside_intent_records(db, before)
    assert after.keys == before.keys
    assert not db.document("intents/X/events/forged").get().exists


@pytest.mark.parametrize("message_id", [".", "..", "__x__", "a" * 100, "1:2-3.4_5"])
def test_message_ids_of_every_allowed_form_are_keys(stack, db, results, message_id):
    """A message id is the intent id when the message names none: every allowed one must be a
    Firestore key (`paper:` comes first)."""
    db.recursive_delete(intent_ref(db, message_id))
    body = envelope({"intent": "ping"})
    body["message"]["messageId"] = message_id
    status, answer = post(stack, body)
    assert (status, answer["status"]) == (200, "succeeded"), answer
    assert [r["status"] for r in results.all_for(message_id)] == ["succeeded"]
    assert record(db, message_id)["messageIds"] == [message_id]


# -- straight to the HTTP endpoint: publish times -----------------------------------------------


def published_at(text: Any, shape: str) -> tuple[dict[str, str], bytes, str]:
    """A ping with a ttl of 120 s published at `text`, in one delivery shape."""
    intent_id = unique("when")
    data = json.dumps({"intent": "ping", "id": intent_id, "ttlSeconds": 120}).encode()
    message_id = unique("m")
    if shape == "unwrapped":
        headers = {"X-Goog-Pubsub-Message-Id": message_id, "X-Goog-Pubsub-Publish-Time": text}
        return headers, data, intent_id
    body = envelope(data, message_id=message_id)
    del body["message"]["publishTime"]
    body["message"]["publishTime" if shape == "camelCase" else "publish_time"] = text
    return {}, json.dumps(body).encode(), intent_id


def ago(delta: timedelta, offset: str = "") -> Callable[[], str]:
    """A publish time `delta` before the test runs: without an offset, or written in `offset`
    (`+HH:MM`)."""

    def text() -> str:
        when = datetime.now(UTC) - delta
        if not offset:
            return when.replace(tzinfo=None).isoformat()
        sign, hours, minutes = offset[0], int(offset[1:3]), int(offset[4:6])
        shift = timedelta(hours=hours, minutes=minutes) * (1 if sign == "+" else -1)
        return (when + shift).strftime("%Y-%m-%dT%H:%M:%S") + offset

    return text


PUBLISH_TIMES: dict[str, tuple[str | Callable[[], str], str]] = {
    "without offset, a moment ago": (ago(timedelta(seconds=5)), "succeeded"),
    "without offset, long ago": (ago(timedelta(days=2)), "expired"),
    "without offset, in the future": (ago(-timedelta(days=2)), "succeeded"),
    "9999-12-31": ("9999-12-31T23:59:59.999999Z", "succeeded"),
    "9999-12-31 without offset": ("9999-12-31T23:59:59", "succeeded"),
    "9999-12-31 at -12:00": ("9999-12-31T23:59:59-12:00", "succeeded"),
    "0001-01-01 at +01:00": ("0001-01-01T00:00:00+01:00", "expired"),
    "0001-01-01": ("0001-01-01T00:00:00Z", "expired"),
    "offset +23:59, a moment ago": (ago(timedelta(seconds=5), "+23:59"), "succeeded"),
    "offset -23:59, long ago": (ago(timedelta(days=2), "-23:59"), "expired"),
    "not a time": ("yesterday", "succeeded"),
    "month 13": ("2026-13-01T00:00:00Z", "succeeded"),
    "date only": ("2020-01-01", "expired"),
}


@pytest.mark.parametrize(("text", "status"), PUBLISH_TIMES.values(), ids=list(PUBLISH_TIMES))
@pytest.mark.parametrize("shape", ["camelCase", "snake_case", "unwrapped"])
def test_odd_publish_times_with_a_ttl_end_in_one_result(stack, results, text, status, shape):
    """A publish time without an offset is UTC; one in the future never extends a ttl (it counts
    from now); an unreadable one is unknown (the ttl counts from arrival)."""
    headers, body, intent_id = published_at(text() if callable(text) else text, shape)
    answer_status, answer = post(stack, body, headers)
    assert (answer_status, answer["status"]) == (200, status), answer
    [result] = results.all_for(intent_id, settle=1)
    assert result["status"] == status
    if status == "expired":
        assert result["error"]["code"] == "expired"


@pytest.mark.parametrize("value", [None, 12, 1.5, [], {}, True, "", "Z", "+00:00"])
def test_a_publish_time_of_another_type_is_unknown(stack, results, value):
    intent_id = unique("when")
    body = envelope({"intent": "ping", "id": intent_id, "ttlSeconds": 60})
    body["message"]["publishTime"] = value
    status, answer = post(stack, body)
    assert (status, answer["status"]) == (200, "succeeded"), answer


def test_a_dead_letter_with_odd_publish_times_closes_its_intent_once(stack, results):
    """/dead-letter reads the first publish time from an attribute: the same rules apply."""
    # Times no other test publishes at: a dead letter without an id closes the intent that asked
    # the same at the same first publish time.
    odd = (
        "9999-12-31T23:59:58.777-12:00",
        "0001-01-01T00:00:00.777+01:00",
        "2026-01-01T00:00:00.777",
        "x",
    )
    for text in odd:
        message_id = unique("dl")
        attributes = {
            "CloudPubSubDeadLetterSourceTopicPublishTime": text,
            "CloudPubSubDeadLetterSourceDeliveryCount": "20",
        }
        body = envelope({"intent": "ping"}, attributes, message_id=message_id)
        reply = raw(
            stack,
            with_body(
                {"Content-Type": "application/json"}, json.dumps(body).encode(), "/dead-letter"
            ),
        )
        assert (reply.status, reply.json()["status"]) == (200, "failed"), reply.body
        [result] = results.all_for(message_id, settle=1)
        assert result["error"]["code"] == "dead-lettered"


@pytest.mark.parametrize(
    "count", ["\ud800", "9" * 1_500_000, "twenty"], ids=["no text", "1.5 MB", "word"]
)
def test_a_dead_letter_with_an_odd_delivery_count_closes_its_intent_once(stack, results, count):
    """The count attribute goes into the error message: before, a lone surrogate was a 500 and
    1.5 MB made the record too large for Firestore (503, retried for 7 days)."""
    message_id = unique("dl-count")
    attributes = {"CloudPubSubDeadLetterSourceDeliveryCount": count}
    body = json.dumps(envelope({"intent": "ping"}, attributes, message_id=message_id)).encode()
    reply = raw(stack, with_body({"Content-Type": "application/json"}, body, "/dead-letter"))
    assert (reply.status, reply.json()["status"]) == (200, "failed"), reply.body[:300]
    [result] = results.all_for(message_id, settle=1)
    assert result["error"]["code"] == "dead-lettered"
    assert len(result["error"]["message"]) < 200


# -- 400 answers never quote a library ----------------------------------------------------------

LIBRARY_TEXT = (
    "Error",
    "error(",
    "recursion",
    "codec",
    "Expecting",
    "line 1",
    "char ",
    "Traceback",
    "0x",
)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b"[" * 100_000),
        ({}, b"\xff\xfe\xfd"),
        ({}, b'{"message": {"messageId": "1"'),
        ({}, b'{"message": 1' + b"0" * 5000 + b"}"),
        ({"Content-Type": "application/json; charset=utf-16"}, "{}".encode("utf-16")),
        ({"ce-specversion": "1.0"}, b"{}"),
        ({"ce-specversion": "9.9", "ce-id": "1", "ce-type": "t", "ce-source": "s"}, b"{}"),
        ({"ce-specversion": "1.0", "ce-id": "1", "ce-type": "t", "ce-source": "s"}, b"\xff"),
        ({"Content-Type": "application/cloudevents+json"}, b"\xff[[["),
        ({"Content-Type": "application/cloudevents+json"}, b'{"specversion": "1.0"}'),
        (
            {"Content-Type": "application/cloudevents+json"},
            b'{"specversion":"1.0","id":"1","type":"t","source":"s","data_base64":"%%%"}',
        ),
        ({"X-Goog-Pubsub-Message-Id": "x" * 101}, b"{}"),
    ],
    ids=[
        "deep",
        "not utf-8",
        "truncated",
        "5000-digit number",
        "utf-16",
        "cloudevent no attrs",
        "cloudevent bad version",
        "cloudevent bad data",
        "structured not json",
        "structured missing attrs",
        "structured bad base64",
        "unwrapped long id",
    ],
)
def test_400_answers_are_short_and_stable(stack, headers, body):
    reply = raw(stack, with_body({"Content-Type": "application/json", **headers}, body))
    assert_stable_400(reply)
    text = reply.body.decode()
    assert not [w for w in LIBRARY_TEXT if w in text], text


# -- text that is not text ----------------------------------------------------------------------

LONE_SURROGATES = {
    "requestedBy": {"intent": "ping", "requestedBy": "\ud800"},
    "a param": {"intent": "summary", "params": {"account": "DU\udfff"}},
    "a batch step's param": {
        "intent": "batch",
        "params": {"steps": [{"intent": "summary", "params": {"account": "\ud800x"}}]},
    },
    "a key": {"intent": "ping", "\ud800": 1},
    "id": {"intent": "ping", "id": "\ud800"},
    "intent": {"intent": "\ud800"},
}


@pytest.mark.parametrize("data", LONE_SURROGATES.values(), ids=list(LONE_SURROGATES))
def test_a_lone_surrogate_anywhere_in_the_message_is_rejected_once(stack, db, results, data):
    """JSON may escape a lone surrogate (\\ud800), which is no character: Firestore cannot store
    it (a crash, redelivered until dead-lettered, before the contract said so)."""
    message_id = unique("surrogate")
    raw_data = json.dumps(data).encode()  # ensure_ascii: the surrogate travels as an escape
    for _ in range(2):
        status, answer = post(stack, envelope(raw_data, message_id=message_id))
        assert (status, answer["status"]) == (200, "rejected"), answer
    [result] = results.all_for(message_id)
    assert result["error"]["code"] == "invalid-json"
    assert "surrogates not allowed" in result["error"]["message"]
    assert record(db, message_id)["status"] == "rejected"


@pytest.mark.parametrize("value", ["a\x00b", "\U0001f600", "a\u0301", "\ufeff", "\u2028"])
def test_odd_but_real_characters_are_kept(stack, db, results, value):
    intent_id = unique("chars")
    data = {"intent": "ping", "id": intent_id, "requestedBy": value}
    status, answer = post(stack, envelope(data))
    assert (status, answer["status"]) == (200, "succeeded"), answer
    assert results.for_id(intent_id)["requestedBy"] == value
    assert record(db, intent_id)["requestedBy"] == value


@pytest.mark.parametrize("where", ["field", "attribute"])
def test_an_id_with_a_final_newline_is_rejected(stack, results, where):
    message_id = unique("newline")
    data, attributes = {"intent": "ping"}, {}
    if where == "field":
        data["id"] = "job-1\n"
    else:
        attributes["id"] = "job-1\n"
    status, answer = post(stack, envelope(data, attributes, message_id=message_id))
    assert (status, answer["status"]) == (200, "rejected"), answer
