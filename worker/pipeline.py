"""From a decoded delivery to an HTTP answer: admit (`worker.admission`), claim, run, record,
publish.

The answer follows the ack rules of docs/architecture.md: 2xx acks (terminal, rejected,
expired, duplicate, other mode), 429 asks for a later retry (busy), 503 counts a transient
failure.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from worker import admission, intent_registry, logs, results
from worker.delivery import Delivery, parse_time, to_ms
from worker.exceptions import (
    Interrupted,
    PublishFailed,
    Rejected,
    ShuttingDown,
    StoreRefused,
    StoreUnavailable,
)
from worker.message import IntentMessage
from worker.record_types import RequestFields
from worker.results import ResultMessage, ResultPublisher, ResultStatus
from worker.runner import Runner
from worker.settings import Settings
from worker.store import Claim, IntentStore

log = logging.getLogger("worker")
_REMEMBERED = 1024  # rejections whose result this process published, by message id


@dataclass(frozen=True)
class Answer:
    """The HTTP status and a small JSON body saying what happened."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Arrival:
    """One delivery as the pipeline sees it: what came, and when."""

    delivery: Delivery
    received_at: datetime

    @property
    def message_id(self) -> str:
        return self.delivery.message_id


@dataclass
class Pipeline:
    settings: Settings
    store: IntentStore
    publisher: ResultPublisher
    runner: Runner
    # Rejections already published (message id -> result message id): a redelivery records the
    # rejection without publishing it twice.
    _rejected: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def handle(self, delivery: Delivery) -> Answer:
        """A message from the intents topic."""
        return self._guarded(self._answer, delivery)

    def handle_dead_letter(self, delivery: Delivery) -> Answer:
        """A message Pub/Sub gave up delivering: its intent ends `failed` unless it ended."""
        return self._guarded(self._dead_letter, delivery)

    def _guarded(self, step: Callable[[_Arrival], Answer], delivery: Delivery) -> Answer:
        with logs.context(messageId=delivery.message_id):
            try:
                return step(_Arrival(delivery, datetime.now(UTC)))
            except (StoreUnavailable, PublishFailed, Interrupted) as exc:
                # A result that could not be published stays in its record for the redelivery.
                log.warning("%s; asking Pub/Sub to redeliver", exc)
                return Answer(503, {"error": str(exc), "retryable": True})

    # -- arrival ------------------------------------------------------------------------------

    def _answer(self, arrival: _Arrival) -> Answer:
        message = self._read(arrival)
        if isinstance(message, Answer):
            return message
        try:
            if message.expires_at and message.expires_at <= arrival.received_at:
                err = results.error("expired", f"expired at {results.iso(message.expires_at)}")
                return self._close(arrival, message, "expired", err)
            return self._run(arrival, message)
        except StoreRefused as exc:
            return self._refused(arrival, message, exc)

    def _dead_letter(self, arrival: _Arrival) -> Answer:
        message = self._read(arrival)
        if isinstance(message, Answer):
            return message
        attributes = arrival.delivery.attributes
        if not message.explicit_id:
            # The dead-lettered copy has a new message id; its record was keyed by the old one,
            # and is found by what the message asked and when it was first published.
            published = parse_time(attributes.get("CloudPubSubDeadLetterSourceTopicPublishTime"))
            found = self.store.find(message.fingerprint, to_ms(published)) if published else None
            message = replace(message, id=found or message.id)
        # Its digits only: an attribute holds whatever the pusher sent (any size, even no text).
        count = attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "")
        count = re.sub(r"\D", "", count)[:9] or "?"
        err = results.error(
            "dead-lettered",
            f"Pub/Sub gave up after {count} delivery attempts; the intent did not finish",
        )
        log.warning("dead letter of intent %s after %s delivery attempts", message.id, count)
        try:
            return self._close(arrival, message, "failed", err)
        except StoreRefused as exc:
            return self._refused(arrival, message, exc)

    def _read(self, arrival: _Arrival) -> IntentMessage | Answer:
        """The validated message, or the answer for a message this worker does not run."""
        admitted = admission.admit(arrival.delivery, self.settings)
        if isinstance(admitted, admission.OtherMode):
            return self._other_mode(admitted.mode)
        if isinstance(admitted, admission.Refusal):
            return self._reject(arrival, admitted.message, admitted.error)
        logs.bind(intentId=admitted.id, intent=admitted.intent)
        return admitted

    def _other_mode(self, mode: str) -> Answer:
        own = self.settings.trading_mode
        log.info("message for trading mode %s ignored by the %s worker", mode, own)
        return Answer(200, {"ignored": f"for trading mode {mode}"})

    # -- outcomes -----------------------------------------------------------------------------

    def _reject(self, arrival: _Arrival, message: IntentMessage, exc: Rejected) -> Answer:
        """One rejected result per rejected message, published while it is recorded: a
        rejection never takes its id, so nothing waits on the record, and the message is acked
        only once both are done (a redelivery publishes unless this process already did)."""
        logs.bind(intentId=message.id)
        log.warning("message rejected: %s", exc)
        result = self._result(arrival, message, "rejected", error=results.error(exc.code, str(exc)))
        published = self._rejected.get(arrival.message_id)
        sent = self.publisher.send(result) if published is None else None
        try:
            self.store.reject(
                message.id, self._fields(arrival, message), result, arrival.message_id
            )
        except StoreRefused as exc:  # its result is out; a redelivery would be refused the same
            log.error("a rejection could not be recorded: %s", exc)
        finally:
            if sent is not None:
                published = self._rejected[arrival.message_id] = sent()
                while len(self._rejected) > _REMEMBERED:
                    self._rejected.popitem(last=False)
        return Answer(200, {"id": message.id, "status": "rejected", "resultMessageId": published})

    def _close(
        self,
        arrival: _Arrival,
        message: IntentMessage,
        status: ResultStatus,
        err: dict[str, Any],
    ) -> Answer:
        """End an intent on arrival (expired, dead-lettered), unless it ended or runs."""
        result = self._result(arrival, message, status, error=err)
        claim = self.store.close(
            message.id, self._fields(arrival, message), result, arrival.message_id
        )
        if claim.kind != "run":
            return self._not_run(arrival, message, claim)
        return self._publish(message.id, claim.record["resultMessage"])

    def _run(self, arrival: _Arrival, message: IntentMessage) -> Answer:
        spec = intent_registry.get(message.intent)
        assert spec is not None  # validate() only lets registered intents through
        if spec.side_effect_free(message.params):
            answer = self._run_unclaimed(arrival, message, spec)
            if answer is not None:
                return answer
        claim = self.store.claim(message.id, self._fields(arrival, message), arrival.message_id)
        if claim.kind == "exhausted":
            last = (claim.record.get("lastError") or {}).get("message", "unknown")
            gave_up = results.error(
                "attempts-exhausted", f"gave up after {claim.attempts} attempts; last error: {last}"
            )
            return self._finish(arrival, message, claim.attempts, error=gave_up)
        if claim.kind != "run":
            return self._not_run(arrival, message, claim)
        started_at = datetime.now(UTC)
        outcome = self.runner.run(spec, message, claim.attempts)
        if outcome.busy or isinstance(outcome.interrupted, ShuttingDown):
            # Neither is the intent's fault: give the attempt back and ask for a redelivery.
            reason = outcome.busy or str(outcome.interrupted)
            busy = results.error("busy", reason, retryable=True)
            self.store.release(message.id, busy, claim.attempts, count=False)
            log.info("intent %s not run now: %s", message.id, reason)
            status = 429 if outcome.busy else 503
            return Answer(status, {"id": message.id, "status": "busy", "retryable": True})
        err = outcome.error
        if err and err["retryable"] and claim.attempts < self.settings.max_attempts:
            released = self.store.release(message.id, err, claim.attempts)
            if released != "released":
                # A stale attempt (frozen past its lease): the intent is another's, or ended.
                log.warning("lost the intent to another attempt, nothing sent")
                if released == "ended":
                    return Answer(200, {"id": message.id, "status": "taken over"})
                return Answer(503, {"id": message.id, "status": "taken over", "error": err})
            attempts = f"{claim.attempts} of {self.settings.max_attempts}"
            log.warning("attempt %s failed: %s", attempts, err["message"])
            return Answer(503, {"id": message.id, "status": "retrying", "error": err})
        if err and err["retryable"]:  # the last attempt's error: no retry follows it
            err = {**err, "retryable": False}
        return self._finish(
            arrival,
            message,
            claim.attempts,
            output=outcome.output,
            error=err,
            started_at=started_at,
            timings=outcome.timings,
        )

    def _run_unclaimed(
        self, arrival: _Arrival, message: IntentMessage, spec: intent_registry.IntentSpec
    ) -> Answer | None:
        """An intent without side effects: run it first, then create its terminal record (the
        create is the claim: store.record_run), publish, mark published. None: take the claimed
        way, which counts and gives back attempts (an earlier attempt left the intent unfinished,
        or this run failed in a way worth retrying); running it again there changes nothing."""
        started_at = datetime.now(UTC)
        outcome = self.runner.run(spec, message, 1, claimed=False)
        if isinstance(outcome.interrupted, ShuttingDown):  # nothing recorded: redeliver
            return Answer(503, {"id": message.id, "status": "busy", "retryable": True})
        err = outcome.error
        if outcome.busy or (err and err["retryable"]):
            return None
        result = self._result(
            arrival,
            message,
            "failed" if err else "succeeded",
            attempts=1,
            output=outcome.output,
            error=err,
            started_at=started_at,
            timings=outcome.timings,
        )
        fields = self._fields(arrival, message)
        try:
            claim = self.store.record_run(message.id, fields, result, arrival.message_id)
        except StoreRefused as exc:  # its output is too large to keep: it fails without it
            result = self._result(arrival, message, "failed", attempts=1, error=_refusal(exc))
            claim = self.store.record_run(message.id, fields, result, arrival.message_id)
        if claim is None:
            return None
        if claim.kind != "run":
            return self._not_run(arrival, message, claim)
        return self._publish(message.id, result)

    def _finish(
        self, arrival: _Arrival, message: IntentMessage, attempts: int, **outcome: Any
    ) -> Answer:
        status: ResultStatus = "failed" if outcome.get("error") else "succeeded"
        result = self._result(arrival, message, status, attempts=attempts, **outcome)
        try:
            claim = self.store.finish(message.id, result)
        except StoreRefused as exc:  # its output is too large to keep: it fails without it
            result = self._result(
                arrival, message, "failed", attempts=attempts, error=_refusal(exc)
            )
            claim = self.store.finish(message.id, result)
        if claim.kind != "run":
            return self._not_run(arrival, message, claim)
        return self._publish(message.id, result)

    def _not_run(self, arrival: _Arrival, message: IntentMessage, claim: Claim) -> Answer:
        """The answer when the record says this message does not run the intent now."""
        intent_id, record = message.id, claim.record
        if claim.kind == "busy":
            log.info("intent %s is running elsewhere under a live lease; retry later", intent_id)
            return Answer(429, {"id": intent_id, "status": "busy", "retryable": True})
        if claim.kind == "reused":
            earlier = (record.get("messageIds") or ["?"])[0]
            return self._reject(
                arrival,
                message,
                Rejected(
                    "id-reused",
                    f"id {intent_id!r} is taken by message {earlier} "
                    f"({record.get('intent')}, {record.get('status')}), which asked for "
                    "something else; publish this one with a new id",
                ),
            )
        if claim.kind == "lost":
            log.warning("intent %s was taken over or ended elsewhere meanwhile", intent_id)
            return Answer(200, {"id": intent_id, "status": "taken over"})
        if not record.get("resultPublished") and record.get("resultMessage"):
            log.info("intent %s ended before; publishing its result now", intent_id)
            return self._publish(intent_id, record["resultMessage"])
        log.info("duplicate delivery of intent %s (already %s)", intent_id, record.get("status"))
        return Answer(200, {"id": intent_id, "status": record.get("status"), "duplicate": True})

    def _refused(self, arrival: _Arrival, message: IntentMessage, exc: StoreRefused) -> Answer:
        """Firestore refused to keep even a failure of the intent: its one result goes out
        without a record (a redelivery would be refused the same way)."""
        log.error("intent %s ends without a record: %s", message.id, exc)
        result = self._result(arrival, message, "failed", error=_refusal(exc))
        published = self.publisher.publish(result)
        return Answer(200, {"id": message.id, "status": "failed", "resultMessageId": published})

    def _publish(self, intent_id: str, result: ResultMessage) -> Answer:
        published = self.publisher.publish(result)
        try:
            self.store.mark_published(intent_id, published)
        except (StoreUnavailable, StoreRefused) as exc:
            # The result is out: a 503 now would publish it a second time on the redelivery.
            log.warning("result of %s published but not marked as published: %s", intent_id, exc)
        status = result["status"]
        log.info(
            "intent %s %s",
            intent_id,
            status,
            extra={"fields": {"status": status, "timings": result["timings"]}},
        )
        return Answer(200, {"id": intent_id, "status": status, "resultMessageId": published})

    # -- records ------------------------------------------------------------------------------

    def _result(
        self,
        arrival: _Arrival,
        message: IntentMessage,
        status: ResultStatus,
        *,
        output: dict[str, Any] | None = None,
        **outcome: Any,
    ) -> ResultMessage:
        return results.build(
            settings=self.settings,
            id=message.id,
            intent=message.intent or None,
            trading_mode=message.trading_mode,
            status=status,
            message_id=arrival.message_id,
            received_at=arrival.received_at,
            finished_at=datetime.now(UTC),
            result=output,
            requested_by=message.requested_by,
            **outcome,
        )

    @staticmethod
    def _fields(arrival: _Arrival, message: IntentMessage) -> RequestFields:
        published = arrival.delivery.publish_time
        return {
            "intent": message.intent,
            "params": message.params,
            "tradingMode": message.trading_mode,
            "requestedBy": message.requested_by,
            "fingerprint": message.fingerprint,
            "publishedAtMs": to_ms(published) if published else None,
        }


def _refusal(exc: StoreRefused) -> dict[str, Any]:
    return results.error(
        "store-refused", f"{exc}: the intent ends failed, and what it produced is not kept"
    )
