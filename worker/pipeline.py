"""From a decoded delivery to an HTTP answer: validate, claim, run, record, publish.

The answer follows the ack rules of docs/architecture.md: 2xx acks (terminal, rejected, expired,
duplicate, other mode), 429 asks for a later retry (busy), 503 counts a transient failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import worker.intents  # noqa: F401 - importing the plugin package registers every intent
from worker import logs, registry, results
from worker import message as contract
from worker.delivery import Delivery
from worker.exceptions import Interrupted, PublishFailed, Rejected, ShuttingDown, StoreUnavailable
from worker.logs import bind
from worker.message import IntentMessage
from worker.results import ResultPublisher
from worker.runner import Runner
from worker.settings import Settings
from worker.store import Claim, IntentStore

log = logging.getLogger("worker")


@dataclass(frozen=True)
class Answer:
    """The HTTP status and a small JSON body saying what happened."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pipeline:
    settings: Settings
    store: IntentStore
    publisher: ResultPublisher
    runner: Runner

    def handle(self, delivery: Delivery) -> Answer:
        with logs.context(messageId=delivery.message_id):
            return self._answer(delivery)

    def _answer(self, delivery: Delivery) -> Answer:
        received_at = datetime.now(UTC)
        try:
            return self._handle(delivery, received_at)
        except (StoreUnavailable, PublishFailed, Interrupted) as exc:
            # A publish that failed is kept in the terminal record for the redelivery.
            log.warning("%s; asking Pub/Sub to redeliver", exc)
            return Answer(503, {"error": str(exc), "retryable": True})

    def _handle(self, delivery: Delivery, received_at: datetime) -> Answer:
        own = self.settings.trading_mode
        hint = delivery.attributes.get("tradingMode")
        # The attribute decides which worker owns a message; without one the body does, and a
        # message whose mode cannot be read belongs to the default mode, so only one of two
        # workers records its rejection.
        mode = hint if hint in contract.TRADING_MODES else None
        if mode and mode != own:
            return self._other_mode(mode)
        body: dict[str, Any] = {}
        try:
            if delivery.problem:
                raise Rejected("bad-encoding", delivery.problem)
            size, limit = len(delivery.data), self.settings.max_message_bytes
            if size > limit:
                raise Rejected("too-large", f"message data is {size} bytes; the limit is {limit}")
            body = contract.parse_json(delivery.data)
            mode = contract.trading_mode(body, delivery.attributes)
            if mode != own:
                return self._other_mode(mode)
            message = contract.validate(
                body,
                delivery.attributes,
                message_id=delivery.message_id,
                known_intents=registry.names(),
                schemas_dir=self.settings.schemas_dir,
                published_at=delivery.publish_time,
            )
        except Rejected as exc:
            if (mode or contract.DEFAULT_MODE) != own:
                return self._other_mode(mode or contract.DEFAULT_MODE)
            return self._reject(delivery, body, exc, received_at)
        bind(intentId=message.id, intent=message.intent)
        if message.expires_at and message.expires_at <= received_at:
            err = results.error("expired", f"expired at {results.iso(message.expires_at)}")
            return self._close_new(delivery, message.id, message, "expired", err, received_at)
        return self._run(delivery, message, received_at)

    @staticmethod
    def _busy(intent_id: str) -> Answer:
        log.info("intent %s is running elsewhere under a live lease; retry later", intent_id)
        return Answer(429, {"id": intent_id, "status": "busy", "retryable": True})

    def _other_mode(self, mode: str) -> Answer:
        log.info(
            "message for trading mode %s ignored by the %s worker", mode, self.settings.trading_mode
        )
        return Answer(200, {"ignored": f"for trading mode {mode}"})

    def _reject(
        self, delivery: Delivery, body: dict[str, Any], exc: Rejected, received_at: datetime
    ) -> Answer:
        try:
            intent_id = contract.intent_id(body, delivery.attributes, delivery.message_id)
        except Rejected:
            intent_id = delivery.message_id
        name = (
            body.get("intent")
            if isinstance(body.get("intent"), str)
            else delivery.attributes.get("intent")
        )
        bind(intentId=intent_id)
        log.warning("message rejected: %s", exc)
        message = IntentMessage(
            id=intent_id,
            intent=name or "",
            trading_mode=self.settings.trading_mode,
            requested_by=body.get("requestedBy")
            if isinstance(body.get("requestedBy"), str)
            else None,
        )
        err = results.error(exc.code, str(exc))
        return self._close_new(delivery, intent_id, message, "rejected", err, received_at)

    def _close_new(
        self,
        delivery: Delivery,
        intent_id: str,
        message: IntentMessage,
        status: str,
        err: dict[str, Any],
        received_at: datetime,
    ) -> Answer:
        result = results.build(
            settings=self.settings,
            id=intent_id,
            intent=message.intent or None,
            trading_mode=message.trading_mode,
            status=status,
            message_id=delivery.message_id,
            received_at=received_at,
            finished_at=datetime.now(UTC),
            error=err,
            requested_by=message.requested_by,
        )
        # An expired message ends an intent left unfinished by earlier attempts; a rejected one
        # leaves it to the message that created it.
        claim = self.store.close_new(
            intent_id,
            self._fields(message),
            result,
            delivery.message_id,
            supersede=status == "expired",
        )
        if claim.kind == "busy":
            return self._busy(intent_id)
        if claim.kind == "pending":
            log.info(
                "id %s is already in progress; this %s message only adds an audit event",
                intent_id,
                status,
            )
            return Answer(200, {"id": intent_id, "status": "duplicate"})
        if claim.kind == "ended":
            return self._duplicate(intent_id, claim)
        return self._publish(intent_id, claim.record["resultMessage"])

    def _run(self, delivery: Delivery, message: IntentMessage, received_at: datetime) -> Answer:
        claim = self.store.claim(message.id, self._fields(message), delivery.message_id)
        if claim.kind == "ended":
            return self._duplicate(message.id, claim)
        if claim.kind == "busy":
            return self._busy(message.id)
        if claim.kind == "exhausted":
            last = (claim.record.get("lastError") or {}).get("message", "unknown")
            err = results.error(
                "attempts-exhausted", f"gave up after {claim.attempts} attempts; last error: {last}"
            )
            return self._finish(
                message, delivery, "failed", {}, err, claim.attempts, received_at, None
            )

        spec = registry.get(message.intent)
        assert spec is not None  # validate() only lets registered intents through
        started_at = datetime.now(UTC)
        outcome = self.runner.run(spec, message, claim.attempts)
        if outcome.busy or isinstance(outcome.interrupted, ShuttingDown):
            # Neither is the intent's fault: give the attempt back and ask for a redelivery.
            reason = outcome.busy or str(outcome.interrupted)
            self.store.release(
                message.id,
                results.error("busy", reason, retryable=True),
                claim.attempts,
                count=False,
            )
            log.info("intent %s not run now: %s", message.id, reason)
            status = 429 if outcome.busy else 503
            return Answer(status, {"id": message.id, "status": "busy", "retryable": True})
        err = outcome.error
        if err and err["retryable"] and claim.attempts < self.settings.max_attempts:
            self.store.release(message.id, err, claim.attempts)
            log.warning(
                "attempt %d of %d failed: %s",
                claim.attempts,
                self.settings.max_attempts,
                err["message"],
            )
            return Answer(503, {"id": message.id, "status": "retrying", "error": err})
        status = "failed" if err else "succeeded"
        return self._finish(
            message,
            delivery,
            status,
            outcome.output,
            err,
            claim.attempts,
            received_at,
            started_at,
            outcome.timings,
        )

    def _finish(
        self,
        message: IntentMessage,
        delivery: Delivery,
        status: str,
        output: dict[str, Any],
        err: dict[str, Any] | None,
        attempts: int,
        received_at: datetime,
        started_at: datetime | None,
        timings: dict[str, Any] | None = None,
    ) -> Answer:
        result = results.build(
            settings=self.settings,
            id=message.id,
            intent=message.intent,
            trading_mode=message.trading_mode,
            status=status,
            message_id=delivery.message_id,
            received_at=received_at,
            finished_at=datetime.now(UTC),
            result=output,
            error=err,
            attempts=attempts,
            started_at=started_at,
            requested_by=message.requested_by,
            timings=timings,
        )
        claim = self.store.finish(message.id, result)
        if claim.kind == "ended":
            return self._duplicate(message.id, claim)
        return self._publish(message.id, result)

    def _duplicate(self, intent_id: str, claim: Claim) -> Answer:
        record = claim.record
        if not record.get("resultPublished") and record.get("resultMessage"):
            log.info(
                "intent %s ended before but its result was not published; publishing it now",
                intent_id,
            )
            return self._publish(intent_id, record["resultMessage"])
        log.info("duplicate delivery of intent %s (already %s)", intent_id, record.get("status"))
        return Answer(200, {"id": intent_id, "status": record.get("status"), "duplicate": True})

    def _publish(self, intent_id: str, result: dict[str, Any]) -> Answer:
        published = self.publisher.publish(result)
        try:
            self.store.mark_published(intent_id, published)
        except StoreUnavailable as exc:
            # The result is out: a 503 now would publish it a second time on the redelivery.
            log.warning("result of %s published but not marked as published: %s", intent_id, exc)
        log.info(
            "intent %s %s",
            intent_id,
            result["status"],
            extra={"fields": {"status": result["status"], "timings": result["timings"]}},
        )
        return Answer(
            200, {"id": intent_id, "status": result["status"], "resultMessageId": published}
        )

    @staticmethod
    def _fields(message: IntentMessage) -> dict[str, Any]:
        return {
            "intent": message.intent,
            "params": message.params,
            "tradingMode": message.trading_mode,
            "requestedBy": message.requested_by,
        }
