"""Faults in the parts around the worker: Firestore down, ad-hoc gcloud publishing."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support import envelope, post, publish, record, unique, wait_for_log


def test_firestore_outage_answers_503_and_loses_nothing(stack, db, results):
    before = unique("fs-before")
    assert post(stack, envelope({"intent": "ping", "id": before}))[0] == 200
    with stack.firestore_paused():
        direct = unique("fs-down")
        status, body = post(stack, envelope({"intent": "ping", "id": direct}))
        assert status == 503, body
        assert body["retryable"] is True
        # Through Pub/Sub: the push is answered 503 and redelivered until Firestore is back.
        pushed = unique("fs-down")
        publish(stack, {"intent": "ping", "id": pushed})
        wait_for_log(stack, f'"intentId": "{pushed}"')  # pushed while Firestore is down
    result = results.for_id(pushed, timeout=60)
    assert result["status"] == "succeeded"
    assert results.all_for(direct, settle=2) == []  # answered 503: never run, never published
    assert record(db, pushed)["status"] == "succeeded"
    assert len(results.all_for(pushed, settle=2)) == 1
    # What was recorded before the outage is intact, and a redelivery of the message answered
    # 503 (whatever of its claim reached Firestore late) runs it exactly once.
    assert record(db, before)["status"] == "succeeded"
    status, body = post(stack, envelope({"intent": "ping", "id": direct}))
    assert (status, body["status"]) == (200, "succeeded"), body
    assert len(results.all_for(direct, settle=2)) == 1


def test_adhoc_gcloud_publish_is_executed(stack, results):
    intent_id = unique("gcloud")
    message = json.dumps({"intent": "ping", "id": intent_id, "requestedBy": "gcloud"})
    completed = subprocess.run(
        [
            "gcloud",
            "pubsub",
            "topics",
            "publish",
            "intents",
            f"--message={message}",
            "--attribute=intent=ping",
        ],
        env={**os.environ, **stack.client_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result = results.for_id(intent_id, timeout=60)
    assert (result["status"], result["requestedBy"]) == ("succeeded", "gcloud")
