"""The library: validate and publish intents, wait for and follow results."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from worker.database import deadlines
from worker.exceptions import Rejected
from worker.message import intent_names, validate
from worker.names import INTENTS_TOPIC, RESULTS_TOPIC

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


class PublishError(ValueError):
    """The intent was not published: the message says which field is wrong."""


def known_intents() -> list[str]:
    return intent_names(SCHEMAS)


def build_message(
    intent: str,
    params: dict[str, Any] | None = None,
    mode: str = "paper",
    id: str | None = None,
    ttl: int | None = None,
    expires_at: datetime | str | None = None,
    requested_by: str | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The message data and attributes, checked against `schemas/` (PublishError if not valid)."""
    body: dict[str, Any] = {"intent": intent, "tradingMode": mode}
    if params:
        body["params"] = params
    if id is not None:
        body["id"] = id
    if ttl is not None:
        body["ttlSeconds"] = ttl
    if expires_at is not None:
        body["expiresAt"] = (
            expires_at.isoformat() if isinstance(expires_at, datetime) else (expires_at)
        )
    if requested_by:
        body["requestedBy"] = requested_by
    try:
        validate(body, {}, message_id="-", known_intents=known_intents(), schemas_dir=SCHEMAS)
    except Rejected as exc:
        raise PublishError(str(exc)) from None
    attributes = {"intent": intent, "tradingMode": mode}
    if id is not None:
        attributes["id"] = id
    return body, attributes


def _project(project: str | None) -> str:
    found = (
        project or os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT")
    )
    if not found:
        import google.auth

        _, found = google.auth.default()
    if not found:
        raise PublishError("no project: set GOOGLE_CLOUD_PROJECT or pass --project")
    return found


def publish_intent(
    intent: str,
    params: dict[str, Any] | None = None,
    mode: str = "paper",
    id: str | None = None,
    ttl: int | None = None,
    expires_at: datetime | str | None = None,
    requested_by: str | None = None,
    *,
    project: str | None = None,
    topic: str = INTENTS_TOPIC,
    timeout: float = 60,
) -> str:
    """Validate, then publish; returns the intent id (generated unless given). Pub/Sub not
    taking the message within `timeout` seconds raises (TimeoutError or Google's error)."""
    from google.cloud import pubsub_v1

    intent_id = id or f"{intent}-{uuid.uuid4().hex[:16]}"
    body, attributes = build_message(intent, params, mode, intent_id, ttl, expires_at, requested_by)
    publisher = pubsub_v1.PublisherClient()
    path = publisher.topic_path(_project(project), topic)
    extra: dict[str, Any] = dict(attributes)  # message attributes, publish's **kwargs
    future = publisher.publish(path, json.dumps(body).encode(), timeout=timeout, **extra)
    future.result(timeout=timeout)
    return intent_id


PULL_GIVE_UP_SECONDS = 15  # of Pub/Sub not answering before ResultWaiter.results gives up


class ResultWaiter:
    """A temporary subscription on `intent-results`, made before publishing so that no result
    can arrive unseen; deleted on exit."""

    def __init__(self, project: str | None = None, topic: str = RESULTS_TOPIC) -> None:
        from google.cloud import pubsub_v1

        self.client = pubsub_v1.SubscriberClient()
        project = _project(project)
        self.topic = self.client.topic_path(project, topic)
        self.name = self.client.subscription_path(project, f"results-{uuid.uuid4().hex[:12]}")

    def __enter__(self) -> ResultWaiter:
        self.client.create_subscription(
            request={
                "name": self.name,
                "topic": self.topic,
                "ack_deadline_seconds": 60,
                "expiration_policy": {"ttl": {"seconds": 86400}},  # cleaned up even if we crash
            }
        )
        return self

    def __exit__(self, *exc: object) -> None:
        # Best effort and quick: the subscription's expiration policy removes it eventually.
        with contextlib.suppress(Exception):
            self.client.delete_subscription(subscription=self.name, retry=None, timeout=5)

    def results(self, poll: float = 2.0) -> Iterator[dict[str, Any]]:
        from google.api_core import exceptions

        failing_since: float | None = None
        while True:
            try:
                response = self.client.pull(
                    subscription=self.name, max_messages=20, timeout=poll + 5, retry=None
                )
            except exceptions.DeadlineExceeded:  # an empty long pull, as real Pub/Sub ends one
                failing_since = None
                yield {}
                continue
            except (exceptions.ServiceUnavailable, exceptions.InternalServerError):
                # Retried, but not for long: a stack that stopped is said within seconds.
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > PULL_GIVE_UP_SECONDS:
                    raise
                time.sleep(1)
                yield {}
                continue
            failing_since = None
            if response.received_messages:
                self.client.acknowledge(
                    subscription=self.name, ack_ids=[m.ack_id for m in response.received_messages]
                )
            for received in response.received_messages:
                yield json.loads(received.message.data)
            if not response.received_messages:
                yield {}  # a heartbeat, so callers can check their deadline

    def wait(self, intent_id: str, timeout: float, mode: str = "paper") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for result in self.results():
            if result.get("id") == intent_id and result.get("tradingMode") == mode:
                return result
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"no result for {intent_id} within {timeout:g} s")


def wait_for_result(
    intent_id: str, timeout: float = 300, project: str | None = None, mode: str = "paper"
) -> dict[str, Any]:
    """The result of an intent of trading mode `mode`: from its Firestore record if it already
    ended, else the next one published on `intent-results`."""
    finished = _recorded_result(intent_id, project, mode)
    if finished:
        return finished
    with ResultWaiter(project) as waiter:
        finished = _recorded_result(intent_id, project, mode)  # ended while we subscribed
        return finished or waiter.wait(intent_id, timeout, mode)


def _recorded_result(intent_id: str, project: str | None, mode: str) -> dict[str, Any] | None:
    from publisher.records import Records

    try:
        records = Records(project=_project(project), timeout=deadlines.CALL_SECONDS)
        record = records.intent(mode, intent_id) or {}
    except Exception:  # no Firestore access: the results topic will do
        return None
    return record.get("resultMessage") if record.get("resultPublished") else None


def follow_results(
    intent: str | None = None,
    status: str | None = None,
    project: str | None = None,
    listening: Callable[[], object] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every new result as it is published (optionally only one intent or status);
    `listening` is called once the subscription exists, before the first result."""
    with ResultWaiter(project) as waiter:
        if listening is not None:
            listening()
        for result in waiter.results():
            if not result:
                continue
            if intent and result.get("intent") != intent:
                continue
            if status and result.get("status") != status:
                continue
            yield result
