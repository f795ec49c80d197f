"""Result messages: their shape (schemas/result.schema.json), redaction, and publishing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from google.api_core import exceptions

from worker import logs, results
from worker.exceptions import PublishFailed
from worker.settings import Settings

SETTINGS = Settings(project="unit-project", service="ib-paper", revision="r7", version="1.2.3")
SCHEMA = json.loads((SETTINGS.schemas_dir / "result.schema.json").read_text())
T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def build(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "settings": SETTINGS,
        "id": "job-1",
        "intent": "ping",
        "trading_mode": "paper",
        "status": "succeeded",
        "message_id": "1001",
        "received_at": T0,
        "finished_at": T0 + timedelta(milliseconds=1500),
        **overrides,
    }
    return results.build(**kwargs)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"result": {"pong": True}, "attempts": 1, "started_at": T0, "requested_by": "cron"},
        {"status": "failed", "error": results.error("gateway", "no login", retryable=True)},
        {"status": "rejected", "intent": None, "error": results.error("invalid-json", "x")},
        {"status": "expired", "error": results.error("expired", "expired at 2026-11-23T09:00Z")},
        {"trading_mode": "live", "timings": {"gatewayStartMs": 900, "gatewayReused": False}},
    ],
)
def test_every_result_matches_the_schema(overrides):
    result = build(**overrides)
    jsonschema.validate(result, SCHEMA)
    assert set(result) == set(SCHEMA["properties"])


def test_a_result_says_when_and_where():
    result = build(started_at=T0 + timedelta(milliseconds=200), timings={"runMs": 1200})
    assert (result["receivedAt"], result["finishedAt"]) == (
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:01.500000Z",
    )
    assert result["startedAt"] == "2026-11-23T10:00:00.200000Z"
    assert result["timings"] == {
        "gatewayStartMs": None,
        "gatewayReused": None,
        "runMs": 1200,
        "totalMs": 1500,
    }
    assert result["worker"] == {"service": "ib-paper", "revision": "r7", "version": "1.2.3"}
    assert (result["result"], result["error"], result["attempts"]) == ({}, None, 0)


def test_total_time_is_never_negative():
    result = build(finished_at=T0 - timedelta(seconds=1))  # a clock stepped back
    assert result["timings"]["totalMs"] == 0
    jsonschema.validate(result, SCHEMA)


def test_the_total_is_measured_not_taken_from_the_intent():
    assert build(timings={"totalMs": 99})["timings"]["totalMs"] == 1500


# -- redaction ----------------------------------------------------------------------------------


def test_error_messages_are_redacted_like_log_lines():
    logs.register_secret("unit-canary-Qx7w")
    err = results.error("login", "login for UNIT-CANARY-qx7w failed: password=hunter2 userid=bob")
    assert err == {
        "code": "login",
        "message": "login for *** failed: password=*** userid=***",
        "retryable": False,
    }
    assert "hunter2" not in json.dumps(build(status="failed", error=err))


def test_error_messages_without_secrets_are_kept():
    text = "order 7 for SPY rejected by IB: 201 margin"
    assert results.error("broker", text, retryable=True)["message"] == text


# -- publishing ---------------------------------------------------------------------------------


class Future:
    def __init__(self, value: str | None = None, error: Exception | None = None) -> None:
        self.value, self.error = value, error
        self.waited: float | None = None

    def result(self, timeout: float | None = None) -> str:
        self.waited = timeout
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


class FakeClient:
    """The part of pubsub_v1.PublisherClient the publisher uses."""

    def __init__(self, future: Future | None = None, error: Exception | None = None) -> None:
        self.future = future or Future("srv-1")
        self.error = error
        self.sent: list[tuple[str, bytes, dict[str, Any], dict[str, str]]] = []

    def publish(self, topic: str, data: bytes, retry: Any, timeout: float, **attributes: str):
        self.sent.append((topic, data, {"timeout": timeout, "retry": retry}, attributes))
        if self.error is not None:
            raise self.error
        return self.future


def test_publish_sends_the_result_with_its_filter_attributes():
    client = FakeClient()
    result = build(status="rejected", intent=None, error=results.error("empty", "no data"))
    assert results.ResultPublisher(SETTINGS, client).publish(result) == "srv-1"
    [(topic, data, options, attributes)] = client.sent
    assert topic == "projects/unit-project/topics/intent-results"
    assert json.loads(data) == result
    assert b" " not in data.split(b'"message":')[0]  # compact
    assert attributes == {"id": "job-1", "intent": "", "status": "rejected", "tradingMode": "paper"}
    assert options["timeout"] == SETTINGS.publish_timeout_seconds
    assert client.future.waited == SETTINGS.publish_timeout_seconds


def test_a_full_topic_path_is_used_as_it_is():
    client = FakeClient()
    settings = Settings(results_topic="projects/other/topics/results")
    results.ResultPublisher(settings, client).publish(build())
    assert client.sent[0][0] == "projects/other/topics/results"


@pytest.mark.parametrize(
    "client",
    [
        FakeClient(error=exceptions.ServiceUnavailable("down, token=abc")),
        FakeClient(error=exceptions.NotFound("topic not found")),
        FakeClient(Future(error=TimeoutError())),
        FakeClient(Future(error=exceptions.DeadlineExceeded("late"))),
    ],
)
def test_a_failed_publish_is_publish_failed_naming_only_the_error_type(client):
    with pytest.raises(PublishFailed) as failed:
        results.ResultPublisher(SETTINGS, client).publish(build())
    assert str(failed.value).startswith("publishing the result failed: ")
    assert "abc" not in str(failed.value) and "not found" not in str(failed.value)
