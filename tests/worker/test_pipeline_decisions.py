"""The pipeline's decisions, with a fake store (scripted claims), publisher and runner.

No network: what each claim, outcome and failure turns into (the HTTP answer, what is published,
what the store is told). The same pipeline against the real emulators: test_pipeline.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from worker.delivery import Delivery
from worker.exceptions import (
    DeadlineExceeded,
    PublishFailed,
    ShuttingDown,
    StoreRefused,
    StoreUnavailable,
)
from worker.pipeline import Pipeline
from worker.runner import Outcome
from worker.settings import Settings
from worker.store import Claim

SETTINGS = Settings(trading_mode="paper", max_attempts=3)
RESULT_SCHEMA = json.loads((SETTINGS.schemas_dir / "result.schema.json").read_text())
PUBLISHED = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)


@dataclass
class FakeStore:
    """Answers with the claims a test scripts; records every call."""

    claims: list[Claim] = field(default_factory=list)  # for claim(), in order
    finished: Claim | None = None  # what finish() answers (default: run)
    closed: Claim | None = None  # what close() answers (default: run, with the result)
    recorded: list[Claim | None] = field(default_factory=list)  # record_run(), in order (or run)
    found: str | None = None  # what find() answers
    released: str = "released"  # what release() answers (or: ended, taken over meanwhile)
    # method -> raised on every call, or a list of errors raised one per call until it is empty
    fail: dict[str, Exception | list[Exception]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        failure = self.fail.get(name)
        if isinstance(failure, list):
            if failure:
                raise failure.pop(0)
        elif failure is not None:
            raise failure

    def named(self, name: str) -> list[tuple]:
        return [args for called, args in self.calls if called == name]

    def claim(self, intent_id: str, fields: dict, message_id: str) -> Claim:
        self._call("claim", intent_id, fields, message_id)
        return self.claims.pop(0)

    def close(self, intent_id: str, fields: dict, result: dict, message_id: str) -> Claim:
        self._call("close", intent_id, fields, result, message_id)
        return self.closed or Claim("run", 0, {"resultMessage": result})

    def record_run(self, intent_id: str, fields: dict, result: dict, message_id: str) -> Any:
        self._call("record_run", intent_id, fields, result, message_id)
        if self.recorded:
            return self.recorded.pop(0)
        return Claim("run", 1, {"resultMessage": result})

    def reject(self, intent_id: str, fields: dict, result: dict, message_id: str) -> None:
        self._call("reject", intent_id, fields, result, message_id)

    def finish(self, intent_id: str, result: dict) -> Claim:
        self._call("finish", intent_id, result)
        return self.finished or Claim("run", result["attempts"], {"resultMessage": result})

    def release(self, intent_id: str, error: dict, attempts: int, count: bool = True) -> str:
        self._call("release", intent_id, error, attempts, count)
        return self.released

    def mark_published(self, intent_id: str, published_id: str) -> None:
        self._call("mark_published", intent_id, published_id)

    def find(self, fingerprint: str, published_ms: int) -> str | None:
        self._call("find", fingerprint, published_ms)
        return self.found


@dataclass
class FakePublisher:
    published: list[dict] = field(default_factory=list)
    fail: Exception | None = None

    def publish(self, result: dict) -> str:
        if self.fail is not None:
            raise self.fail
        jsonschema.validate(result, RESULT_SCHEMA)
        self.published.append(result)
        return f"r-{len(self.published)}"

    def send(self, result: dict) -> Callable[[], str]:
        return lambda: self.publish(result)


@dataclass
class FakeRunner:
    outcomes: list[Outcome] = field(default_factory=list)
    runs: list[tuple[str, str, int]] = field(default_factory=list)
    claimed: list[bool] = field(default_factory=list)  # per run: is there a lease to renew

    def run(self, spec: Any, message: Any, attempt: int, claimed: bool = True) -> Outcome:
        self.runs.append((spec.name, message.id, attempt))
        self.claimed.append(claimed)
        return self.outcomes.pop(0)


@dataclass
class World:
    store: FakeStore
    publisher: FakePublisher
    runner: FakeRunner
    pipeline: Pipeline


@pytest.fixture
def world() -> World:
    store, publisher, runner = FakeStore(), FakePublisher(), FakeRunner()
    pipeline = Pipeline(settings=SETTINGS, store=store, publisher=publisher, runner=runner)
    return World(store, publisher, runner, pipeline)


def arrive(
    data: dict | bytes,
    message_id: str = "1001",
    attributes: dict[str, str] | None = None,
    published: datetime | None = PUBLISHED,
) -> Delivery:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return Delivery(
        message_id=message_id, data=raw, attributes=attributes or {}, publish_time=published
    )


def error(code: str = "gateway", retryable: bool = True) -> dict[str, Any]:
    return {"code": code, "message": f"{code} went wrong", "retryable": retryable}


# With the gateway a ping has side effects: it takes the claimed path these tests are about. A
# plain ping runs before it is recorded (see "runs without a claim").
PING = {"intent": "ping", "id": "job-1", "params": {"gateway": True}}


# -- runs ---------------------------------------------------------------------------------------


def test_a_new_intent_runs_once_and_its_result_is_published_once(world):
    world.store.claims = [Claim("run", 1)]
    world.runner.outcomes = [Outcome(output={"pong": True}, timings={"runMs": 3})]
    answer = world.pipeline.handle(arrive(PING))
    assert answer.status == 200
    assert answer.body == {"id": "job-1", "status": "succeeded", "resultMessageId": "r-1"}
    assert world.runner.runs == [("ping", "job-1", 1)] and world.runner.claimed == [True]
    [result] = world.publisher.published
    assert (result["status"], result["result"], result["attempts"]) == (
        "succeeded",
        {"pong": True},
        1,
    )
    assert (result["messageId"], result["error"]) == ("1001", None)
    assert [args[0] for args in world.store.named("finish")] == ["job-1"]
    assert world.store.named("mark_published") == [("job-1", "r-1")]
    _, fields, message_id = world.store.named("claim")[0]
    assert (fields["intent"], fields["tradingMode"], message_id) == ("ping", "paper", "1001")
    assert fields["publishedAtMs"] == 1795428000123


def test_a_live_lease_elsewhere_is_429_and_nothing_runs(world):
    world.store.claims = [Claim("busy", 1, {"status": "running"})]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"], answer.body["retryable"]) == (429, "busy", True)
    assert world.runner.runs == [] and world.publisher.published == []
    assert world.store.named("release") == []


def test_a_busy_gateway_is_429_and_the_attempt_is_given_back_uncounted(world):
    world.store.claims = [Claim("run", 2)]
    world.runner.outcomes = [Outcome(busy="the gateway lease is held by another instance")]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (429, "busy")
    [(intent_id, err, attempts, count)] = world.store.named("release")
    assert (intent_id, attempts, count) == ("job-1", 2, False)
    assert (err["code"], err["retryable"]) == ("busy", True)
    assert world.publisher.published == []


def test_a_shutdown_gives_the_attempt_back_uncounted_with_a_503(world):
    world.store.claims = [Claim("run", 1)]
    stopped = ShuttingDown("the instance is shutting down (SIGTERM)")
    world.runner.outcomes = [
        Outcome(interrupted=stopped, error=error("shutdown")),
    ]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (503, "busy")
    assert [args[3] for args in world.store.named("release")] == [False]
    assert world.publisher.published == []


def test_a_retryable_error_with_attempts_left_is_503_and_released(world):
    world.store.claims = [Claim("run", 2)]
    world.runner.outcomes = [Outcome(error=error("ib-disconnected"))]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (503, "retrying")
    assert answer.body["error"]["code"] == "ib-disconnected"
    [(intent_id, err, attempts, count)] = world.store.named("release")
    assert (intent_id, err["code"], attempts, count) == ("job-1", "ib-disconnected", 2, True)
    assert world.store.named("finish") == [] and world.publisher.published == []


@pytest.mark.parametrize(("released", "status"), [("ended", 200), ("taken over", 503)])
def test_a_stale_attempt_whose_intent_went_elsewhere_logs_one_line_and_publishes_nothing(
    world, caplog, released, status
):
    """Ended meanwhile: acked. Taken over and still running elsewhere: asked again later (the
    redelivery finds it busy or ended)."""
    world.store.claims = [Claim("run", 1)]
    world.store.released = released
    world.runner.outcomes = [Outcome(error=error("lease-lost"))]
    with caplog.at_level(logging.INFO, logger="worker"):
        answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (status, "taken over")
    assert world.store.named("finish") == [] and world.publisher.published == []
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == ["lost the intent to another attempt, nothing sent"]


def test_a_deadline_counts_as_a_retryable_attempt(world):
    world.store.claims = [Claim("run", 1)]
    late = DeadlineExceeded("the intent deadline of 480 s passed")
    world.runner.outcomes = [Outcome(interrupted=late, error=error("deadline"))]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (503, "retrying")
    assert [args[3] for args in world.store.named("release")] == [True]


@pytest.mark.parametrize("code", ["ib-disconnected", "gateway-not-ready", "deadline"])
def test_the_last_attempt_ends_in_one_failed_result_that_says_it_is_final(world, code):
    world.store.claims = [Claim("run", SETTINGS.max_attempts)]
    world.runner.outcomes = [Outcome(output={"partial": 1}, error=error(code))]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    [result] = world.publisher.published
    assert (result["status"], result["attempts"]) == ("failed", 3)
    assert result["error"] == {"code": code, "message": f"{code} went wrong", "retryable": False}
    [(_, recorded)] = world.store.named("finish")
    assert recorded["error"]["retryable"] is False
    assert result["result"] == {"partial": 1}
    assert world.store.named("release") == []


def test_a_failure_that_cannot_succeed_ends_at_once(world):
    world.store.claims = [Claim("run", 1)]
    world.runner.outcomes = [Outcome(error=error("risk-limit", retryable=False))]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    assert len(world.publisher.published) == 1


def test_no_attempts_left_fails_without_running_naming_the_last_error(world):
    last = {"lastError": error("gateway") | {"message": "gateway did not come up"}}
    world.store.claims = [Claim("exhausted", 3, last)]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    assert world.runner.runs == []
    [result] = world.publisher.published
    assert result["error"]["code"] == "attempts-exhausted"
    assert (
        "gave up after 3 attempts; last error: gateway did not come up"
        in (result["error"]["message"])
    )


# -- records that decide ------------------------------------------------------------------------


def test_a_reused_id_is_rejected_naming_the_earlier_message(world):
    earlier = {"messageIds": ["900", "901"], "intent": "summary", "status": "succeeded"}
    world.store.claims = [Claim("reused", 1, earlier)]
    answer = world.pipeline.handle(arrive(PING, message_id="1002"))
    assert (answer.status, answer.body["status"]) == (200, "rejected")
    [result] = world.publisher.published
    assert (result["status"], result["error"]["code"]) == ("rejected", "id-reused")
    assert "'job-1' is taken by message 900 (summary, succeeded)" in result["error"]["message"]
    assert "publish this one with a new id" in result["error"]["message"]
    [(intent_id, _, recorded, message_id)] = world.store.named("reject")
    assert (intent_id, recorded, message_id) == ("job-1", result, "1002")
    assert world.runner.runs == []
    # A second result for the id, told apart by the message that produced it (the dedupe key of
    # README and docs/architecture.md: id, tradingMode and messageId).
    assert (result["id"], result["tradingMode"], result["messageId"]) == ("job-1", "paper", "1002")


def test_an_intent_taken_over_meanwhile_is_200_without_a_result(world):
    world.store.claims = [Claim("run", 1)]
    world.store.finished = Claim("lost", 2, {"status": "running"})
    world.runner.outcomes = [Outcome(output={"pong": True})]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "taken over")
    assert world.publisher.published == []
    assert world.store.named("mark_published") == []


def test_an_intent_another_attempt_finished_first_publishes_that_result(world):
    theirs = {"status": "succeeded", "attempts": 2, "resultMessage": {"id": "job-1"}}
    world.store.claims = [Claim("run", 1)]
    world.store.finished = Claim("ended", 2, {**theirs, "resultPublished": True})
    world.runner.outcomes = [Outcome(output={"pong": True})]
    answer = world.pipeline.handle(arrive(PING))
    assert answer.body == {"id": "job-1", "status": "succeeded", "duplicate": True}
    assert world.publisher.published == []


def ended(published: bool) -> dict[str, Any]:
    result = {
        "id": "job-1",
        "intent": "ping",
        "tradingMode": "paper",
        "status": "succeeded",
        "result": {"pong": True},
        "error": None,
        "attempts": 1,
        "receivedAt": "2026-11-23T10:00:01Z",
        "startedAt": None,
        "finishedAt": "2026-11-23T10:00:02Z",
        "timings": {"totalMs": 1000},
        "worker": SETTINGS.worker_info,
        "messageId": "1000",
    }
    return {"status": "succeeded", "resultMessage": result, "resultPublished": published}


def test_an_ended_but_unpublished_record_gets_its_own_result_published(world):
    world.store.claims = [Claim("ended", 1, ended(published=False))]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "succeeded")
    assert world.publisher.published == [ended(False)["resultMessage"]]  # the same, not a new one
    assert world.store.named("mark_published") == [("job-1", "r-1")]
    assert world.runner.runs == []


def test_a_duplicate_of_an_ended_intent_is_acked_without_a_result(world):
    world.store.claims = [Claim("ended", 1, ended(published=True))]
    answer = world.pipeline.handle(arrive(PING))
    assert answer.body == {"id": "job-1", "status": "succeeded", "duplicate": True}
    assert world.publisher.published == [] and world.runner.runs == []


def test_a_result_out_but_not_marked_is_still_200(world):
    world.store.claims = [Claim("run", 1)]
    world.store.fail["mark_published"] = StoreUnavailable("Firestore did not answer")
    world.runner.outcomes = [Outcome()]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "succeeded")  # a 503 would publish again
    assert len(world.publisher.published) == 1


@pytest.mark.parametrize("method", ["claim", "finish"])
def test_firestore_unavailable_is_503(world, method):
    world.store.claims = [Claim("run", 1)]
    world.store.fail[method] = StoreUnavailable("Firestore did not answer in 2 s")
    world.runner.outcomes = [Outcome()]
    answer = world.pipeline.handle(arrive(PING))
    assert answer.status == 503
    assert answer.body == {"error": "Firestore did not answer in 2 s", "retryable": True}
    assert world.publisher.published == []


REFUSED = StoreRefused("Firestore refused the write: Document exceeds maximum size")


@pytest.mark.parametrize(
    ("message", "recording"), [(PING, "finish"), ({"intent": "ping", "id": "job-1"}, "record_run")]
)
def test_a_result_firestore_refuses_to_keep_ends_failed_without_its_output(
    world, message, recording
):
    world.store.claims = [Claim("run", 1)]
    world.store.fail[recording] = [REFUSED]  # the first write only: its output is too large
    world.runner.outcomes = [Outcome(output={"rows": ["x"] * 10})]
    answer = world.pipeline.handle(arrive(message))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    [result] = world.publisher.published  # one result, never a retry forever
    assert (result["status"], result["error"]["code"], result["result"]) == (
        "failed",
        "store-refused",
        {},
    )
    assert result["error"]["retryable"] is False and "not kept" in result["error"]["message"]
    tried, kept = (
        args[-2 if recording == "record_run" else 1] for args in world.store.named(recording)
    )
    assert tried["status"] == "succeeded" and kept == result
    assert world.store.named("mark_published") == [("job-1", "r-1")]


def test_an_intent_firestore_refuses_to_record_at_all_ends_with_one_failed_result(world):
    world.store.fail["claim"] = REFUSED
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body) == (
        200,
        {"id": "job-1", "status": "failed", "resultMessageId": "r-1"},
    )
    [result] = world.publisher.published
    assert (result["status"], result["error"]["code"]) == ("failed", "store-refused")
    assert world.runner.runs == []


def test_a_rejection_firestore_refuses_to_record_is_acked_with_its_one_result(world):
    world.store.fail["reject"] = REFUSED
    answer = world.pipeline.handle(arrive({"intent": "no-such-intent", "id": "job-9"}))
    assert (answer.status, answer.body["status"]) == (200, "rejected")
    [result] = world.publisher.published
    assert result["status"] == "rejected"


def test_a_reused_id_whose_record_refuses_the_rejection_gets_one_result(world):
    """A record near Firestore's size limit: the rejection is the one result, never followed by
    a `failed` one for the same message."""
    earlier = {"messageIds": ["900"], "intent": "summary", "status": "succeeded"}
    world.store.claims = [Claim("reused", 1, earlier)]
    world.store.fail["reject"] = REFUSED
    answer = world.pipeline.handle(arrive(PING, message_id="1003"))
    assert (answer.status, answer.body["status"]) == (200, "rejected")
    assert [r["status"] for r in world.publisher.published] == ["rejected"]


def test_a_result_published_whose_mark_is_refused_is_not_published_again(world):
    world.store.claims = [Claim("run", 1)]
    world.store.fail["mark_published"] = REFUSED
    world.runner.outcomes = [Outcome()]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["status"]) == (200, "succeeded")
    assert [r["status"] for r in world.publisher.published] == ["succeeded"]


def test_a_result_that_cannot_be_published_is_503(world):
    world.store.claims = [Claim("run", 1)]
    world.publisher.fail = PublishFailed("publishing the result failed: DeadlineExceeded")
    world.runner.outcomes = [Outcome()]
    answer = world.pipeline.handle(arrive(PING))
    assert (answer.status, answer.body["retryable"]) == (503, True)
    assert len(world.store.named("finish")) == 1  # the record keeps the result for the redelivery
    assert world.store.named("mark_published") == []


# -- runs without a claim (an intent without side effects) --------------------------------------

PLAIN = {"intent": "ping", "id": "job-2"}


def test_an_intent_without_side_effects_runs_then_is_recorded_once_without_a_claim(world):
    world.runner.outcomes = [Outcome(output={"pong": True})]
    answer = world.pipeline.handle(arrive(PLAIN))
    assert answer.body == {"id": "job-2", "status": "succeeded", "resultMessageId": "r-1"}
    # Nothing claimed, so no lease to renew (and no order may go out).
    assert world.runner.runs == [("ping", "job-2", 1)] and world.runner.claimed == [False]
    [result] = world.publisher.published
    assert (result["status"], result["attempts"], result["result"]) == (
        "succeeded",
        1,
        {"pong": True},
    )
    assert [name for name, _ in world.store.calls] == ["record_run", "mark_published"]
    [(intent_id, fields, recorded, message_id)] = world.store.named("record_run")
    assert (intent_id, fields["intent"], recorded, message_id) == ("job-2", "ping", result, "1001")


@pytest.mark.parametrize(
    ("decided", "status", "body"),
    [
        (Claim("ended", 1, ended(published=True)), 200, {"duplicate": True}),
        (Claim("busy", 1, {"status": "succeeded"}), 429, {"status": "busy"}),
    ],
)
def test_an_intent_without_side_effects_on_a_taken_id_answers_as_the_record_says(
    world, decided, status, body
):
    world.store.recorded = [decided]
    world.runner.outcomes = [Outcome(output={"pong": True})]
    answer = world.pipeline.handle(arrive(PLAIN))
    assert answer.status == status and body.items() <= answer.body.items()
    assert world.publisher.published == [] and world.store.named("claim") == []


def test_an_ended_unpublished_record_of_a_plain_run_gets_its_own_result_published(world):
    world.store.recorded = [Claim("ended", 1, ended(published=False))]
    world.runner.outcomes = [Outcome(output={"pong": "again"})]
    world.pipeline.handle(arrive(PLAIN))
    assert world.publisher.published == [ended(False)["resultMessage"]]  # the first, not this run


def test_an_id_left_unfinished_by_earlier_attempts_takes_the_claimed_way(world):
    world.store.recorded = [None]
    world.store.claims = [Claim("run", 3)]
    world.runner.outcomes = [Outcome(output={"pong": 1}), Outcome(output={"pong": 2})]
    answer = world.pipeline.handle(arrive(PLAIN))
    assert (answer.status, answer.body["status"]) == (200, "succeeded")
    assert world.runner.runs == [("ping", "job-2", 1), ("ping", "job-2", 3)]
    [result] = world.publisher.published
    assert (result["attempts"], result["result"]) == (3, {"pong": 2})
    assert [name for name, _ in world.store.calls] == [
        "record_run",
        "claim",
        "finish",
        "mark_published",
    ]


def test_a_plain_run_that_failed_retryably_is_retried_the_claimed_way(world):
    world.store.claims = [Claim("run", 1)]
    world.runner.outcomes = [Outcome(error=error("internal")), Outcome(error=error("internal"))]
    answer = world.pipeline.handle(arrive(PLAIN))
    assert (answer.status, answer.body["status"]) == (503, "retrying")
    assert world.store.named("record_run") == []
    assert [args[3] for args in world.store.named("release")] == [True]  # the attempt counted


def test_a_plain_run_that_cannot_succeed_is_recorded_failed_without_a_claim(world):
    world.runner.outcomes = [Outcome(error=error("bad-params", retryable=False))]
    answer = world.pipeline.handle(arrive(PLAIN))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    assert [name for name, _ in world.store.calls] == ["record_run", "mark_published"]


def test_a_shutdown_during_a_plain_run_records_nothing_and_is_503(world):
    stopped = ShuttingDown("the instance is shutting down (SIGTERM)")
    world.runner.outcomes = [Outcome(interrupted=stopped, error=error("shutdown"))]
    answer = world.pipeline.handle(arrive(PLAIN))
    assert (answer.status, answer.body["status"]) == (503, "busy")
    assert world.store.calls == [] and world.publisher.published == []


# -- rejections ---------------------------------------------------------------------------------


def test_a_rejection_is_published_and_recorded_and_never_claims(world):
    answer = world.pipeline.handle(arrive({"intent": "ping", "bogus": 1}, message_id="77"))
    assert answer.body == {"id": "77", "status": "rejected", "resultMessageId": "r-1"}
    [result] = world.publisher.published
    assert (result["id"], result["intent"], result["status"]) == ("77", "ping", "rejected")
    assert "unknown field 'bogus'" in result["error"]["message"]
    assert [name for name, _ in world.store.calls] == ["reject"]


def test_a_redelivered_rejection_is_published_once_and_recorded_each_time(world):
    bad = arrive(b"not json", message_id="78")
    first, second = world.pipeline.handle(bad), world.pipeline.handle(bad)
    assert first.body == second.body == {"id": "78", "status": "rejected", "resultMessageId": "r-1"}
    assert len(world.publisher.published) == 1
    assert [args[3] for args in world.store.named("reject")] == ["78", "78"]
    # Another message with the same content is another rejection.
    world.pipeline.handle(arrive(b"not json", message_id="79"))
    assert len(world.publisher.published) == 2


def test_a_rejection_that_could_not_be_published_is_published_on_the_redelivery(world):
    bad = arrive(b"[]", message_id="80")
    world.publisher.fail = PublishFailed("publishing the result failed: Unavailable")
    assert world.pipeline.handle(bad).status == 503
    world.publisher.fail = None
    assert world.pipeline.handle(bad).body["status"] == "rejected"
    assert len(world.publisher.published) == 1
    # Recorded while it was published, each time: the record never waits on the result.
    assert [args[3] for args in world.store.named("reject")] == ["80", "80"]


def test_a_rejection_that_could_not_be_recorded_is_not_published_again(world):
    bad = arrive(b"[]", message_id="82")
    world.store.fail["reject"] = StoreUnavailable("Firestore is unavailable: ServiceUnavailable")
    assert world.pipeline.handle(bad).status == 503
    del world.store.fail["reject"]
    assert world.pipeline.handle(bad).body == {
        "id": "82",
        "status": "rejected",
        "resultMessageId": "r-1",
    }
    assert len(world.publisher.published) == 1
    assert len(world.store.named("reject")) == 2


def test_a_rejection_keeps_only_a_usable_id_and_plain_names(world):
    data = {"intent": "x" * 500, "id": "no spaces allowed", "requestedBy": ["a"]}
    world.pipeline.handle(arrive(data, message_id="81"))
    [result] = world.publisher.published
    assert (result["id"], result["intent"], result["requestedBy"]) == ("81", None, None)


# -- arrival: expiry, mode ----------------------------------------------------------------------


def test_an_expired_intent_is_closed_without_running(world):
    data = {"intent": "ping", "id": "late-1", "ttlSeconds": 60}
    old = datetime.now(UTC) - timedelta(hours=1)
    answer = world.pipeline.handle(arrive(data, published=old))
    assert (answer.status, answer.body["status"]) == (200, "expired")
    [(intent_id, _, result, _)] = world.store.named("close")
    assert (intent_id, result["status"], result["error"]["code"]) == (
        "late-1",
        "expired",
        "expired",
    )
    assert world.publisher.published == [result]
    assert world.runner.runs == [] and world.store.named("claim") == []


def test_an_expired_intent_earlier_attempts_ran_publishes_what_the_store_decided(world):
    decided = ended(published=False)["resultMessage"] | {
        "id": "late-2",
        "status": "failed",
        "attempts": 2,
        "error": error("expired-after-attempts", retryable=False),
    }
    world.store.closed = Claim("run", 2, {"resultMessage": decided})
    data = {"intent": "ping", "id": "late-2", "expiresAt": "2020-01-01T00:00:00Z"}
    answer = world.pipeline.handle(arrive(data))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    assert world.publisher.published == [decided]
    assert world.store.named("mark_published") == [("late-2", "r-1")]


def test_an_expiry_of_an_intent_running_elsewhere_is_429(world):
    world.store.closed = Claim("busy", 1, {"status": "running"})
    data = {"intent": "ping", "id": "late-3", "expiresAt": "2020-01-01T00:00:00Z"}
    answer = world.pipeline.handle(arrive(data))
    assert answer.status == 429
    assert world.publisher.published == []


@pytest.mark.parametrize(
    ("data", "attributes"),
    [
        ({"intent": "ping", "tradingMode": "live"}, {}),
        ({"intent": "ping"}, {"tradingMode": "live"}),
        (b"not even json", {"tradingMode": "live"}),
        ({"intent": "ping", "tradingMode": "live", "bogus": 1}, {}),
    ],
)
def test_a_message_for_the_other_mode_is_ignored(world, data, attributes):
    answer = world.pipeline.handle(arrive(data, attributes=attributes))
    assert answer.status == 200
    assert answer.body == {"ignored": "for trading mode live"}
    assert world.store.calls == [] and world.publisher.published == []


def test_an_unreadable_message_belongs_to_the_default_mode(world):
    answer = world.pipeline.handle(arrive(b"\xff\xfe not json"))
    assert answer.body["status"] == "rejected"
    live = Pipeline(
        settings=Settings(trading_mode="live"),
        store=FakeStore(),
        publisher=FakePublisher(),
        runner=FakeRunner(),
    )
    assert live.handle(arrive(b"\xff\xfe not json")).body == {"ignored": "for trading mode paper"}


# -- dead letters -------------------------------------------------------------------------------


def dead_letter(data: dict, publish_time: str | None = "2026-11-23T10:00:00.123Z") -> Delivery:
    attributes = {"CloudPubSubDeadLetterSourceDeliveryCount": "20"}
    if publish_time:
        attributes["CloudPubSubDeadLetterSourceTopicPublishTime"] = publish_time
    return arrive(data, message_id="5000", attributes=attributes)


def fingerprint(intent: str, params: dict, mode: str = "paper") -> str:
    asked = {"intent": intent, "params": params, "tradingMode": mode}
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def test_a_dead_letter_without_an_id_finds_its_intent_by_fingerprint_and_publish_time(world):
    world.store.found = "4000"  # the original message id, the intent's id
    answer = world.pipeline.handle_dead_letter(dead_letter({"intent": "ping"}))
    assert (answer.status, answer.body["status"]) == (200, "failed")
    assert world.store.named("find") == [(fingerprint("ping", {}), 1795428000123)]
    [(intent_id, _, result, message_id)] = world.store.named("close")
    assert (intent_id, message_id) == ("4000", "5000")
    assert (result["status"], result["error"]["code"]) == ("failed", "dead-lettered")
    assert "gave up after 20 delivery attempts" in result["error"]["message"]
    assert world.publisher.published == [result]


def test_a_dead_letter_whose_intent_is_not_found_closes_under_its_own_message_id(world):
    answer = world.pipeline.handle_dead_letter(dead_letter({"intent": "ping"}))
    assert answer.body["id"] == "5000"
    assert len(world.store.named("find")) == 1


def test_a_dead_letter_without_a_first_publish_time_is_not_looked_up(world):
    world.pipeline.handle_dead_letter(dead_letter({"intent": "ping"}, publish_time=None))
    assert world.store.named("find") == []
    assert world.store.named("close")[0][0] == "5000"


def test_a_dead_letter_with_an_id_closes_that_intent(world):
    world.pipeline.handle_dead_letter(dead_letter({"intent": "ping", "id": "job-9"}))
    assert world.store.named("find") == []
    assert world.store.named("close")[0][0] == "job-9"


def test_a_dead_letter_of_an_intent_that_ended_publishes_nothing_new(world):
    world.store.closed = Claim("ended", 1, ended(published=True))
    answer = world.pipeline.handle_dead_letter(dead_letter({"intent": "ping", "id": "job-1"}))
    assert answer.body.get("duplicate") is True
    assert world.publisher.published == []


def test_a_dead_letter_of_a_bad_message_is_rejected_once(world):
    bad = dead_letter({"intent": "ping", "bogus": True})
    world.pipeline.handle_dead_letter(bad)
    world.pipeline.handle_dead_letter(bad)
    assert [r["status"] for r in world.publisher.published] == ["rejected"]
    assert world.store.named("close") == []


@pytest.mark.parametrize(
    ("count", "said"),
    [
        ("20", "after 20 delivery"),
        ("\ud800", "after ? delivery"),
        ("7" * 2_000_000, "after 777777777 delivery"),
    ],
    ids=["digits", "no text", "two million digits"],
)
def test_a_dead_letter_delivery_count_is_taken_as_digits_only(world, count, said):
    attributes = {"CloudPubSubDeadLetterSourceDeliveryCount": count}
    world.pipeline.handle_dead_letter(
        arrive({"intent": "ping", "id": "job-2"}, attributes=attributes)
    )
    [result] = world.publisher.published
    assert said in result["error"]["message"]
    assert len(result["error"]["message"]) < 200
    result["error"]["message"].encode()  # text Firestore can store
