"""The pipeline through the real worker (gunicorn) with the real emulators."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from tests.support import (
    delivery,
    envelope,
    events,
    intent_ref,
    pipeline,
    post,
    publish,
    record,
    unique,
)
from worker.settings import Settings

RESULT_SCHEMA = json.loads((Settings().schemas_dir / "result.schema.json").read_text())


def check_result(result: dict) -> dict:
    attributes = result.pop("_attributes")
    jsonschema.validate(result, RESULT_SCHEMA)
    assert attributes == {
        "id": result["id"],
        "intent": result["intent"] or "",
        "status": result["status"],
        "tradingMode": result["tradingMode"],
    }
    return result


def test_ping_through_push_lands_in_firestore_and_results(stack, db, results):
    intent_id = unique("ping")
    publish(stack, {"intent": "ping", "id": intent_id, "requestedBy": "test"}, intent="ping")
    result = check_result(results.for_id(intent_id))
    assert result["status"] == "succeeded"
    assert result["result"]["pong"] is True
    assert result["result"]["tradingMode"] == "paper"
    assert result["result"]["service"] == "ib-paper-local"
    assert result["attempts"] == 1
    assert result["requestedBy"] == "test"
    assert result["timings"]["totalMs"] >= result["timings"]["runMs"] >= 0
    saved = record(db, intent_id)
    assert saved["status"] == "succeeded"
    assert saved["resultPublished"] is True
    assert saved["expireAt"] > datetime.now(UTC) + timedelta(days=29)
    assert events(db, intent_id) == ["received", "claimed", "finished", "result published"]


BAD_INPUT = [
    ("not json", b"this is not json", "not valid JSON"),
    ("json array", b'[{"intent": "ping"}]', "got a JSON array"),
    ("intent not a string", b'{"intent": 42}', "'intent' must be a string"),
    ("missing intent", b'{"params": {}}', "missing required field 'intent'"),
    ("unknown intent", b'{"intent": "pong"}', "unknown intent 'pong'"),
    ("unknown field", b'{"intent": "ping", "dryrun": true}', "unknown field 'dryrun'"),
    ("unknown param", b'{"intent": "ping", "params": {"dryrun": true}}', "params.dryrun"),
    ("params not an object", b'{"intent": "ping", "params": [1]}', "params: [1] is not of type"),
    (
        "bad id",
        b'{"intent": "ping", "id": "no spaces allowed"}',
        "id: 'no spaces allowed' does not match",
    ),
    ("bad tradingMode", b'{"intent": "ping", "tradingMode": "demo"}', "must be 'paper' or 'live'"),
    ("bad ttl", b'{"intent": "ping", "ttlSeconds": "soon"}', "ttlSeconds: 'soon' is not of type"),
    (
        "bad expiresAt",
        b'{"intent": "ping", "expiresAt": "tomorrow"}',
        "expiresAt: 'tomorrow' does not match",
    ),
    ("empty body", b"", "message data is empty"),
    ("not utf-8", b'{"intent": "\xff"}', "not UTF-8"),
]


@pytest.mark.parametrize(("case", "data", "reason"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_rejected_once_with_a_clear_reason(stack, db, results, case, data, reason):
    message_id = unique("bad")
    status, body = post(stack, envelope(data, message_id=message_id))
    assert status == 200, body
    assert body["status"] == "rejected"
    result = check_result(results.for_id(message_id))
    assert result["status"] == "rejected"
    assert reason in result["error"]["message"]
    assert result["error"]["retryable"] is False
    assert record(db, message_id)["status"] == "rejected"
    # A redelivery of the same message is acked without a second result.
    assert post(stack, envelope(data, message_id=message_id))[0] == 200
    assert len(results.all_for(message_id, settle=1)) == 1


def test_bad_base64_is_rejected(stack, results):
    message_id = unique("b64")
    body = envelope(None, message_id=message_id)
    body["message"]["data"] = "%%% not base64 %%%"
    status, answer = post(stack, body)
    assert (status, answer["status"]) == (200, "rejected")
    assert "not valid base64" in results.for_id(message_id)["error"]["message"]


def test_oversize_message_is_rejected(stack, results):
    message_id = unique("big")
    data = {"intent": "ping", "requestedBy": "x" * (70 * 1024)}
    status, _ = post(stack, envelope(data, message_id=message_id))
    assert status == 200
    result = results.for_id(message_id)
    assert result["status"] == "rejected"
    assert "limit is 65536" in result["error"]["message"]


def test_mode_conflict_between_attribute_and_body_is_rejected(stack, results):
    message_id = unique("conflict")
    data = {"intent": "ping", "tradingMode": "paper"}
    status, _ = post(stack, envelope(data, {"tradingMode": "paper "}, message_id=message_id))
    assert status == 200
    assert "attribute tradingMode" in results.for_id(message_id)["error"]["message"]
    message_id = unique("conflict")
    status, _ = post(
        stack,
        envelope(data | {"tradingMode": "live"}, {"tradingMode": "paper"}, message_id=message_id),
    )
    assert status == 200
    assert "contradicts" in results.for_id(message_id)["error"]["message"]


@pytest.mark.parametrize("where", ["body", "attribute"])
def test_other_trading_mode_is_ignored(stack, db, results, where):
    intent_id = unique("live")
    data = {"intent": "ping", "id": intent_id}
    attributes = {}
    if where == "body":
        data["tradingMode"] = "live"
    else:
        attributes["tradingMode"] = "live"
    status, body = post(stack, envelope(data, attributes))
    assert status == 200
    assert "ignored" in body
    assert record(db, intent_id) is None
    assert results.all_for(intent_id, settle=1) == []


@pytest.mark.parametrize("field", ["expiresAt", "ttlSeconds"])
def test_expired_intent_is_not_run(stack, db, results, field):
    intent_id = unique("old")
    data = {"intent": "ping", "id": intent_id}
    data[field] = "2020-01-01T00:00:00Z" if field == "expiresAt" else 60  # published 2026-01-01
    status, body = post(stack, envelope(data))
    assert (status, body["status"]) == (200, "expired")
    result = check_result(results.for_id(intent_id))
    assert result["status"] == "expired"
    assert result["error"]["code"] == "expired"
    assert "claimed" not in events(db, intent_id)


def left_by_failed_attempts(db, intent_id: str, attempts: int) -> None:
    """The record of a ping whose `attempts` attempts failed and were given back."""
    intent_ref(db, intent_id).set(
        {
            "status": "received",
            "intent": "ping",
            "attempts": attempts,
            "lastError": {
                "code": "gateway",
                "message": "gateway did not come up",
                "retryable": True,
            },
        }
    )


def test_intent_left_unfinished_by_earlier_attempts_fails_when_it_expires(stack, db, results):
    intent_id = unique("late")
    left_by_failed_attempts(db, intent_id, 2)
    data = {"intent": "ping", "id": intent_id, "expiresAt": "2020-01-01T00:00:00Z"}
    status, body = post(stack, envelope(data))
    assert (status, body["status"]) == (200, "failed")
    result = check_result(results.for_id(intent_id))
    assert (result["status"], result["attempts"]) == ("failed", 2)
    assert result["error"]["code"] == "expired-after-attempts"
    assert "after 2 attempt(s); it may have partly run" in result["error"]["message"]
    saved = record(db, intent_id)
    assert (saved["status"], saved["resultPublished"]) == ("failed", True)
    assert "claimed" not in events(db, intent_id)
    assert post(stack, envelope(data))[0] == 200
    assert len(results.all_for(intent_id, settle=1)) == 1


def test_expired_redelivery_of_an_intent_running_elsewhere_gets_429(stack, db, results):
    intent_id = unique("late-busy")
    lease = {"owner": "another-instance", "expiresAt": datetime.now(UTC) + timedelta(minutes=5)}
    ref = intent_ref(db, intent_id)
    ref.set({"status": "running", "intent": "ping", "attempts": 1, "lease": lease})
    data = {"intent": "ping", "id": intent_id, "expiresAt": "2020-01-01T00:00:00Z"}
    status, body = post(stack, envelope(data))
    assert (status, body["status"]) == (429, "busy")
    assert record(db, intent_id)["status"] == "running"
    assert results.all_for(intent_id, settle=1) == []


def test_malformed_id_attribute_is_rejected(stack, db, results):
    message_id = unique("bad-id-attr")
    status, body = post(
        stack, envelope({"intent": "ping"}, {"id": "has spaces"}, message_id=message_id)
    )
    assert (status, body["status"]) == (200, "rejected")
    assert "attribute id='has spaces'" in results.for_id(message_id)["error"]["message"]


def test_unreadable_message_is_rejected_by_the_default_mode_worker_only(stack, db, results):
    live = pipeline(stack, TRADING_MODE="live")
    garbage = replace(delivery({"intent": 42}), data=b"not json at all")
    answer = live.handle(garbage)
    assert (answer.status, "ignored" in answer.body) == (200, True)
    assert record(db, garbage.message_id) is None
    # With the attribute naming it, the live worker owns the message and rejects it.
    garbage = replace(garbage, attributes={"tradingMode": "live"})
    answer = live.handle(garbage)
    assert (answer.status, answer.body["status"]) == (200, "rejected")
    assert results.for_id(garbage.message_id)["tradingMode"] == "live"


def test_result_is_published_once_when_marking_it_fails(stack, db, results):
    worker = pipeline(stack)
    publish_result = worker.publisher.publish

    def publish_then_lose_firestore(result):
        published = publish_result(result)
        stack.children["firestore"].pause()
        return published

    worker.publisher.publish = publish_then_lose_firestore
    intent_id = unique("unmarked")
    try:
        answer = worker.handle(delivery({"intent": "ping", "id": intent_id}))
    finally:
        stack.children["firestore"].resume()
    assert (answer.status, answer.body["status"]) == (200, "succeeded")
    assert len(results.all_for(intent_id, settle=2)) == 1


def test_same_message_twice_and_same_id_twice_run_once(stack, db, results):
    intent_id = unique("dup")
    first = envelope({"intent": "ping", "id": intent_id})
    assert post(stack, first)[0] == 200
    assert post(stack, first)[0] == 200
    status, body = post(stack, envelope({"intent": "ping", "id": intent_id}))
    assert (status, body.get("duplicate")) == (200, True)
    assert len(results.all_for(intent_id)) == 1
    assert events(db, intent_id).count("duplicate") == 2
    assert len(record(db, intent_id)["messageIds"]) == 2


def test_same_id_published_twice_through_pubsub_runs_once(stack, db, results):
    intent_id = unique("dup")
    publish(stack, {"intent": "ping", "id": intent_id})
    publish(stack, {"intent": "ping"}, id=intent_id)
    results.for_id(intent_id)
    assert len(results.all_for(intent_id, settle=3)) == 1
    assert events(db, intent_id).count("claimed") == 1


def test_rejected_message_with_a_finished_id_is_rejected_and_leaves_the_record(stack, db, results):
    intent_id = unique("reuse")
    assert post(stack, envelope({"intent": "ping", "id": intent_id}))[0] == 200
    bogus = envelope({"intent": "ping", "id": intent_id, "bogus": 1})
    assert post(stack, bogus)[0] == 200
    assert post(stack, bogus)[0] == 200  # a redelivery: nothing new
    found = results.all_for(intent_id)
    assert [r["status"] for r in found] == ["succeeded", "rejected"]
    assert "unknown field 'bogus'" in found[1]["error"]["message"]
    assert record(db, intent_id)["status"] == "succeeded"
    assert events(db, intent_id).count("rejected") == 1


def test_intent_running_under_a_live_lease_elsewhere_gets_429_then_is_taken_over(
    stack, db, results
):
    intent_id = unique("busy")
    ref = intent_ref(db, intent_id)
    now = datetime.now(UTC)
    ref.set(
        {
            "status": "running",
            "intent": "ping",
            "attempts": 1,
            "lease": {"owner": "another-instance", "expiresAt": now + timedelta(minutes=5)},
        }
    )
    status, body = post(stack, envelope({"intent": "ping", "id": intent_id}))
    assert (status, body["status"]) == (429, "busy")
    assert results.all_for(intent_id, settle=1) == []
    ref.update({"lease.expiresAt": now - timedelta(seconds=1)})
    status, body = post(stack, envelope({"intent": "ping", "id": intent_id}))
    assert (status, body["status"]) == (200, "succeeded")
    assert results.for_id(intent_id)["attempts"] == 2
    assert "taken over" in events(db, intent_id)


def test_intent_out_of_attempts_fails_without_running(stack, db, results):
    intent_id = unique("spent")
    left_by_failed_attempts(db, intent_id, 5)
    status, body = post(stack, envelope({"intent": "ping", "id": intent_id}))
    assert (status, body["status"]) == (200, "failed")
    result = check_result(results.for_id(intent_id))
    assert result["error"]["code"] == "attempts-exhausted"
    assert "gateway did not come up" in result["error"]["message"]


def test_result_publish_failure_is_retried_with_the_same_result(stack, db, results):
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = stack.topic("intent-results")
    intent_id = unique("unpublished")
    delivery = envelope({"intent": "ping", "id": intent_id})
    results.close()
    publisher.delete_topic(topic=topic)
    try:
        status, body = post(stack, delivery)
        assert status == 503, body
        saved = record(db, intent_id)
        assert (saved["status"], saved["resultPublished"]) == ("succeeded", False)
    finally:
        publisher.create_topic(name=topic)
        results.__init__(stack)
    status, body = post(stack, delivery)
    assert (status, body["status"]) == (200, "succeeded")
    result = results.for_id(intent_id)
    assert result == {**saved["resultMessage"], "_attributes": result["_attributes"]}
    assert record(db, intent_id)["resultPublished"] is True


def test_not_a_delivery_gets_400(stack):
    assert post(stack, b"")[0] == 400
    assert post(stack, b"hello", {"Content-Type": "text/plain"})[0] == 400
    assert post(stack, {"hello": "world"})[0] == 400
    assert post(stack, {"message": {"data": "e30="}})[0] == 400  # no messageId


def test_trace_header_reaches_the_log(stack):
    trace = unique("trace").replace("-", "")
    post(stack, envelope({"intent": "ping"}), {"X-Cloud-Trace-Context": f"{trace}/1;o=1"})
    lines = [
        json.loads(x)
        for x in (stack.log_dir / "worker.log").read_text().splitlines()
        if x.startswith("{")
    ]
    traced = [
        x
        for x in lines
        if x.get("logging.googleapis.com/trace") == f"projects/local-ib/traces/{trace}"
    ]
    assert traced
    assert all({"severity", "message", "messageId"} <= set(x) for x in traced)
