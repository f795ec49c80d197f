"""Every dead letter ends in a result: a message Pub/Sub gave up on reaches `intents-dead-letter`,
the stack's push subscription `worker-dead-letter-paper` brings it to the worker's /dead-letter,
and the worker closes its intent as `failed` (`dead-lettered`, naming the delivery attempts) with
exactly one result; an intent that runs elsewhere under a live lease waits (429) until the lease
expires; an intent that already ended gets no second result.

The messages go through topics of the test's own, whose subscriptions give up after 5 delivery
attempts (the stack's own subscription keeps trying 20 times), sending their dead letters to
`intents-dead-letter`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.processes import free_port
from deploy.stack import DEAD_LETTER_TOPIC, LocalStack
from tests.support import (
    envelope,
    events,
    intent_ref,
    kill_group,
    log_size,
    post,
    record,
    side_worker,
    unique,
    wait_for_log,
    wait_until,
)

ATTEMPTS = 5  # the fewest Pub/Sub allows before a dead letter
LEASE_SECONDS = 6


class GivingUp:
    """A topic whose subscription pushes to `endpoint` and gives up after ATTEMPTS deliveries;
    `also_to` gets a plain push subscription of its own on the same topic."""

    def __init__(self, stack: LocalStack, endpoint: str, also_to: str | None = None) -> None:
        from google.cloud import pubsub_v1

        self.stack = stack
        self.publisher, self.subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        self.topic = stack.topic(unique("gives-up"))
        self.publisher.create_topic(name=self.topic)
        self.subscriptions = [stack.subscription(unique("gives-up"))]
        self.subscriber.create_subscription(
            request={
                "name": self.subscriptions[0],
                "topic": self.topic,
                "push_config": {"push_endpoint": endpoint},
                "ack_deadline_seconds": 30,
                "retry_policy": {
                    "minimum_backoff": {"seconds": 1},
                    "maximum_backoff": {"seconds": 2},
                },
                "dead_letter_policy": {
                    "dead_letter_topic": stack.topic(DEAD_LETTER_TOPIC),
                    "max_delivery_attempts": ATTEMPTS,
                },
            }
        )
        if also_to:
            self.subscriptions.append(stack.subscription(unique("runs-it")))
            self.subscriber.create_subscription(
                request={
                    "name": self.subscriptions[1],
                    "topic": self.topic,
                    "push_config": {"push_endpoint": also_to},
                }
            )

    def publish(self, data: dict[str, Any]) -> str:
        return self.publisher.publish(self.topic, json.dumps(data).encode()).result(timeout=30)

    def close(self) -> None:
        for name in self.subscriptions:
            self.subscriber.delete_subscription(subscription=name)
        self.publisher.delete_topic(topic=self.topic)


@pytest.fixture
def giving_up(stack: LocalStack) -> Iterator[Any]:
    made: list[GivingUp] = []

    def make(endpoint: str, also_to: str | None = None) -> GivingUp:
        made.append(GivingUp(stack, endpoint, also_to))
        return made[-1]

    yield make
    for topic in made:
        topic.close()


@pytest.fixture
def gateway_taken(db) -> Iterator[None]:
    """Another instance holds this mode's IB session: every intent that needs the gateway gets
    a 429 (its attempt not counted) until Pub/Sub gives up."""
    lock = db.collection("locks").document("gateway-paper")
    now = datetime.now(UTC)
    lock.set(
        {"owner": "another-instance", "expiresAt": now + timedelta(minutes=5), "renewedAt": now}
    )
    yield
    lock.delete()


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}/"  # nothing listens: every push fails


def requested_by(results: Any, who: str) -> list[dict[str, Any]]:
    results.all_for("", settle=0.5)  # what arrived meanwhile
    return [r for r in results.seen if r.get("requestedBy") == who]


def dead_lettered(result: dict[str, Any]) -> None:
    assert (result["status"], result["error"]["code"]) == ("failed", "dead-lettered"), result
    assert f"after {ATTEMPTS} delivery attempts" in result["error"]["message"]
    assert result["error"]["retryable"] is False


def test_a_message_pubsub_gave_up_on_ends_failed_with_one_result(
    stack, db, results, giving_up, gateway_taken
):
    """With an id and without one (a scheduler's message, whose record is keyed by its first
    message id while the dead letter has a new one), refused by a busy worker or never
    delivered at all."""
    # One message a subscription: the emulator stops retrying a push endpoint that refuses
    # connections when it holds more than one message for it.
    named, seen_named = unique("dl-id"), unique("dl-never")
    busy_id = giving_up(stack.worker_url).publish({"intent": "summary", "id": named})
    anonymous = {"intent": "summary", "requestedBy": unique("scheduler")}
    busy_anon = giving_up(stack.worker_url).publish(anonymous)
    giving_up(nowhere()).publish({"intent": "summary", "id": seen_named})
    lost_anon_body = {"intent": "summary", "requestedBy": unique("scheduler")}
    giving_up(nowhere()).publish(lost_anon_body)

    for intent_id in (named, busy_anon):  # the worker saw them: records keyed by their ids
        result = results.for_id(intent_id, timeout=90)
        dead_lettered(result)
        assert len(results.all_for(intent_id, settle=0)) == 1
        saved = record(db, intent_id)
        assert (saved["status"], saved["attempts"]) == ("failed", 0)
        trail = events(db, intent_id)
        assert trail.count("attempt returned") == ATTEMPTS, trail
        assert trail[-2:] == ["failed", "result published"]
        assert len(saved["messageIds"]) == 2  # the message and its dead letter
    assert busy_id in record(db, named)["messageIds"]

    dead_lettered(results.for_id(seen_named, timeout=90))
    # Never delivered and without an id: nothing knows its first message id, so it closes under
    # the dead letter's own id, and still ends in a result.
    (anon,) = wait_until(
        lambda: requested_by(results, lost_anon_body["requestedBy"]),
        90,
        "the result of the id-less message that never reached the worker",
    )
    dead_lettered(anon)
    for intent_id in (named, busy_anon, seen_named, anon["id"]):
        assert len(results.all_for(intent_id, settle=2)) == 1, intent_id


def test_an_intent_that_ended_gets_no_second_result_from_its_dead_letter(
    stack, db, results, giving_up
):
    """The same message ran through one subscription and was given up on by another: with an id,
    and without one (found by what it asked and when it was first published)."""
    named = unique("ended")
    giving_up(nowhere(), also_to=stack.worker_url).publish({"intent": "ping", "id": named})
    anonymous = giving_up(nowhere(), also_to=stack.worker_url).publish(
        {"intent": "ping", "requestedBy": unique("scheduler")}
    )
    for intent_id in (named, anonymous):
        assert results.for_id(intent_id, timeout=30)["status"] == "succeeded"
        wait_until(
            lambda i=intent_id: len((record(db, i) or {}).get("messageIds", [])) == 2,
            90,
            f"the dead letter of {intent_id} handled",
        )
        assert events(db, intent_id)[-1] == "duplicate"
        assert [r["status"] for r in results.all_for(intent_id, settle=3)] == ["succeeded"]
        assert record(db, intent_id)["status"] == "succeeded"


def test_a_dead_letter_waits_while_the_intent_runs_under_a_live_lease(
    stack, db, results, giving_up, tmp_path: Path
):
    """A second instance runs the intent (its gateway logs in slowly) and renews its lease; the
    dead letter gets 429 for longer than a lease lasts, then the instance dies, and the dead
    letter closes the intent within about a lease."""
    other = side_worker(
        stack,
        tmp_path,
        env={
            "LEASE_SECONDS": str(LEASE_SECONDS),
            "GATEWAY_LEASE_SECONDS": str(LEASE_SECONDS),
            "SIMULATOR_BOOT_DELAY": "120",
            "SIMULATOR_PERSIST": "",
        },
        subscribe=False,
    )
    try:
        intent_id = unique("leased")
        body = {"intent": "summary", "id": intent_id}

        def deliver() -> None:
            with contextlib.suppress(OSError):  # the instance is killed while it runs this
                post(other, envelope(body), timeout=180)

        threading.Thread(target=deliver, daemon=True).start()
        wait_until(lambda: (record(db, intent_id) or {}).get("status") == "running", 30, "claim")
        offset = log_size(stack)
        giving_up(nowhere()).publish(body)
        wait_for_log(stack, f"dead letter of intent {intent_id}", after=offset, timeout=90)
        dead = envelope(
            body,
            {
                "CloudPubSubDeadLetterSourceDeliveryCount": str(ATTEMPTS),
                "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-01-01T00:00:00.000Z",
            },
        )
        status, answer = post(stack, dead, path="dead-letter")
        assert (status, answer["status"]) == (429, "busy"), answer
        time.sleep(LEASE_SECONDS + 2)  # longer than a lease: it is renewed while the intent runs
        assert (record(db, intent_id) or {})["status"] == "running"
        assert results.all_for(intent_id, settle=0.5) == []
        kill_group(other)
        expired_at = record(db, intent_id)["lease"]["expiresAt"]  # the dead owner's last term
        result = results.for_id(intent_id, timeout=60)
        dead_lettered(result)
        late = (record(db, intent_id)["finishedAt"] - expired_at).total_seconds()
        # after the lease ran out, within a lease and Pub/Sub's longest backoff (10 s) of it
        assert 0 <= late < LEASE_SECONDS + 10, f"closed {late:.1f} s after the lease ran out"
        assert len(results.all_for(intent_id, settle=3)) == 1
        assert post(stack, dead, path="dead-letter")[0] == 200  # and again: nothing more
        assert len(results.all_for(intent_id, settle=1)) == 1
    finally:
        other.stop()
        # The dead instance's gateway lease runs out by itself; the next test need not wait.
        db.collection("locks").document("gateway-paper").delete()
    assert intent_ref(db, intent_id).get().to_dict()["status"] == "failed"
