"""Result messages: build one per terminal intent and publish it on `intent-results`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any, TypedDict

from worker.database.layout import Terminal
from worker.exceptions import PublishFailed
from worker.logs import redact
from worker.settings import Settings

ResultStatus = Terminal  # a result's statuses are the ones that end an intent


class ResultMessage(TypedDict):
    """A result message (`schemas/result.schema.json`), as published and kept on its record."""

    id: str
    intent: str | None
    tradingMode: str
    status: ResultStatus
    result: dict[str, Any]
    error: dict[str, Any] | None
    attempts: int
    receivedAt: str | None
    startedAt: str | None
    finishedAt: str | None
    timings: dict[str, Any]
    worker: dict[str, Any]
    messageId: str
    requestedBy: str | None


def iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def build(
    *,
    settings: Settings,
    id: str,
    intent: str | None,
    trading_mode: str,
    status: ResultStatus,
    message_id: str,
    received_at: datetime,
    finished_at: datetime,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    attempts: int = 0,
    started_at: datetime | None = None,
    requested_by: str | None = None,
    timings: dict[str, Any] | None = None,
) -> ResultMessage:
    """A result message as described by `schemas/result.schema.json`."""
    total_ms = int((finished_at - received_at).total_seconds() * 1000)
    return {
        "id": id,
        "intent": intent,
        "tradingMode": trading_mode,
        "status": status,
        "result": result or {},
        "error": error,
        "attempts": attempts,
        "receivedAt": iso(received_at),
        "startedAt": iso(started_at),
        "finishedAt": iso(finished_at),
        "timings": {
            "gatewayStartMs": None,
            "gatewayReused": None,
            "runMs": None,
            **(timings or {}),
            "totalMs": max(total_ms, 0),
        },
        "worker": settings.worker_info,
        "messageId": message_id,
        "requestedBy": requested_by,
    }


def error(code: str, message: str, *, retryable: bool = False) -> dict[str, Any]:
    """The `error` of a result and a record. Its message is redacted like a log line: it may
    quote what a gateway or a library said, and it goes to Firestore and the results topic."""
    return {"code": code, "message": redact(message), "retryable": retryable}


class ResultPublisher:
    """Publishes result messages with the attributes subscribers filter on."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @cached_property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import pubsub_v1

            # One result at a time: send at once instead of waiting to fill a batch.
            batching = pubsub_v1.types.BatchSettings(max_messages=1)
            self._client = pubsub_v1.PublisherClient(batch_settings=batching)
        return self._client

    @cached_property
    def topic(self) -> str:
        topic = self.settings.results_topic
        if topic.startswith("projects/"):
            return topic
        project = self.settings.project or _default_project()
        return f"projects/{project}/topics/{topic}"

    def publish(self, result: ResultMessage) -> str:
        """Publish and wait for the server's message id, or raise PublishFailed."""
        return self.send(result)()

    def send(self, result: ResultMessage) -> Callable[[], str]:
        """Start publishing; the function returned waits for the server's message id (or
        raises PublishFailed), so that the caller can do other work while the result goes out."""
        from google.api_core import exceptions
        from google.api_core.retry import Retry

        deadline = self.settings.publish_timeout_seconds
        attributes = {
            "id": result["id"],
            "intent": result["intent"] or "",
            "status": result["status"],
            "tradingMode": result["tradingMode"],
        }
        data = json.dumps(result, separators=(",", ":")).encode()
        failed = (exceptions.GoogleAPIError, TimeoutError)
        try:
            future = self.client.publish(
                self.topic, data, retry=Retry(timeout=deadline), timeout=deadline, **attributes
            )
        except failed as exc:
            raise _failed(exc) from exc

        def wait() -> str:
            try:
                return str(future.result(timeout=deadline))
            except failed as exc:
                raise _failed(exc) from exc

        return wait


def _failed(exc: Exception) -> PublishFailed:
    return PublishFailed(f"publishing the result failed: {exc.__class__.__name__}")


def _default_project() -> str:
    import google.auth

    _, project = google.auth.default()
    if not project:
        raise PublishFailed("no project: set GOOGLE_CLOUD_PROJECT")
    return project
