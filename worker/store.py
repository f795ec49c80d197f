"""Firestore records: claiming `intents/{id}`, terminal records and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from worker.config import Settings

TERMINAL = ("succeeded", "failed", "rejected", "expired")


class StoreUnavailable(Exception):
    """Firestore could not be reached in time; the delivery should be retried."""


@dataclass(frozen=True)
class Claim:
    """What claiming an intent id decided.

    kind: `run` (this attempt owns it), `ended` (already terminal), `busy` (running elsewhere
    under a live lease), `exhausted` (no attempts left) or `pending` (exists, not terminal,
    claimed by a message that cannot run).
    """

    kind: str
    attempts: int = 0
    record: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


class IntentStore:
    """`intents/{id}` documents and their `events` subcollection."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @cached_property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import firestore

            self._client = firestore.Client(project=self.settings.project)
        return self._client

    @cached_property
    def _call(self) -> dict[str, Any]:
        from google.api_core.retry import Retry

        deadline = self.settings.firestore_timeout_seconds
        return {
            "retry": Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=deadline),
            "timeout": deadline,
        }

    def _ref(self, intent_id: str) -> Any:
        return self.client.collection("intents").document(intent_id)

    def _run(self, func: Any, *args: Any) -> Any:
        """Run a transactional function, turning connectivity errors into StoreUnavailable."""
        from google.api_core import exceptions

        try:
            return func(self.client.transaction(max_attempts=3), *args)
        except (
            exceptions.RetryError,
            exceptions.ServiceUnavailable,
            exceptions.DeadlineExceeded,
            exceptions.InternalServerError,
            exceptions.Aborted,
        ) as exc:
            raise StoreUnavailable(f"Firestore unavailable: {exc.__class__.__name__}") from exc

    def _event(self, tx: Any, intent_id: str, kind: str, **detail: Any) -> None:
        ref = self._ref(intent_id).collection("events").document()
        tx.create(ref, {"type": kind, "at": _now(), "owner": self.settings.instance_id, **detail})

    def claim(self, intent_id: str, fields: dict[str, Any], message_id: str) -> Claim:
        """Take `intents/{id}` for one attempt, or say why not."""
        from google.cloud import firestore

        settings, owner = self.settings, self.settings.instance_id

        @firestore.transactional
        def attempt(tx: Any) -> Claim:
            ref, now = self._ref(intent_id), _now()
            snap = ref.get(transaction=tx, **self._call)
            lease = {"owner": owner, "expiresAt": now + timedelta(seconds=settings.lease_seconds)}
            if not snap.exists:
                tx.create(
                    ref,
                    {
                        **fields,
                        "status": "running",
                        "attempts": 1,
                        "lease": lease,
                        "messageIds": [message_id],
                        "receivedAt": now,
                        "startedAt": now,
                        "updatedAt": now,
                        "resultPublished": False,
                        "expireAt": now + timedelta(days=settings.record_ttl_days),
                    },
                )
                self._event(tx, intent_id, "received", messageId=message_id)
                self._event(tx, intent_id, "claimed", messageId=message_id, attempt=1)
                return Claim("run", attempts=1)
            record = snap.to_dict()
            ids = firestore.ArrayUnion([message_id])
            if record.get("status") in TERMINAL:
                tx.update(ref, {"messageIds": ids, "updatedAt": now})
                self._event(tx, intent_id, "duplicate", messageId=message_id)
                return Claim("ended", attempts=record.get("attempts", 0), record=record)
            held = record.get("lease") or {}
            if held.get("owner") not in (None, owner) and held.get("expiresAt", now) > now:
                return Claim("busy", attempts=record.get("attempts", 0), record=record)
            attempts = int(record.get("attempts", 0)) + 1
            if attempts > settings.max_attempts:
                return Claim("exhausted", attempts=attempts - 1, record=record)
            tx.update(
                ref,
                {
                    "status": "running",
                    "attempts": attempts,
                    "lease": lease,
                    "messageIds": ids,
                    "startedAt": now,
                    "updatedAt": now,
                },
            )
            kind = "taken over" if held.get("owner") not in (None, owner) else "claimed"
            self._event(
                tx,
                intent_id,
                kind,
                messageId=message_id,
                attempt=attempts,
                previousOwner=held.get("owner"),
            )
            return Claim("run", attempts=attempts, record=record)

        return self._run(attempt)

    def close_new(
        self, intent_id: str, fields: dict[str, Any], result: dict[str, Any], message_id: str
    ) -> Claim:
        """Record an intent that ends on arrival (rejected, expired) unless the id is taken."""
        from google.cloud import firestore

        @firestore.transactional
        def attempt(tx: Any) -> Claim:
            ref, now = self._ref(intent_id), _now()
            snap = ref.get(transaction=tx, **self._call)
            if snap.exists:
                record = snap.to_dict()
                tx.update(ref, {"messageIds": firestore.ArrayUnion([message_id]), "updatedAt": now})
                self._event(
                    tx,
                    intent_id,
                    "duplicate",
                    messageId=message_id,
                    note=f"a later message with this id was {result['status']}",
                )
                ended = record.get("status") in TERMINAL
                return Claim("ended" if ended else "pending", record=record)
            tx.create(
                ref,
                {
                    **fields,
                    "status": result["status"],
                    "attempts": 0,
                    "messageIds": [message_id],
                    "receivedAt": now,
                    "finishedAt": now,
                    "updatedAt": now,
                    "error": result["error"],
                    "result": result["result"],
                    "resultMessage": result,
                    "resultPublished": False,
                    "expireAt": now + timedelta(days=self.settings.record_ttl_days),
                },
            )
            self._event(tx, intent_id, "received", messageId=message_id)
            self._event(
                tx, intent_id, result["status"], messageId=message_id, error=result["error"]
            )
            return Claim("run", record={"resultMessage": result})

        return self._run(attempt)

    def finish(self, intent_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """Record the terminal status; returns the result to publish (an earlier one if any)."""
        from google.cloud import firestore

        @firestore.transactional
        def attempt(tx: Any) -> dict[str, Any]:
            ref, now = self._ref(intent_id), _now()
            record = ref.get(transaction=tx, **self._call).to_dict() or {}
            if record.get("status") in TERMINAL and record.get("resultMessage"):
                return record["resultMessage"]
            tx.update(
                ref,
                {
                    "status": result["status"],
                    "result": result["result"],
                    "error": result["error"],
                    "finishedAt": now,
                    "updatedAt": now,
                    "lease": firestore.DELETE_FIELD,
                    "resultMessage": result,
                    "resultPublished": False,
                },
            )
            self._event(
                tx,
                intent_id,
                "finished",
                status=result["status"],
                error=result["error"],
                attempt=result["attempts"],
            )
            return result

        return self._run(attempt)

    def release(self, intent_id: str, error: dict[str, Any], attempts: int) -> None:
        """Give the intent back after a retryable failure, keeping the attempt count."""
        from google.cloud import firestore

        @firestore.transactional
        def attempt(tx: Any) -> None:
            ref, now = self._ref(intent_id), _now()
            ref.get(transaction=tx, **self._call)
            tx.update(
                ref,
                {
                    "status": "received",
                    "lastError": error,
                    "updatedAt": now,
                    "lease": firestore.DELETE_FIELD,
                },
            )
            self._event(tx, intent_id, "attempt failed", attempt=attempts, error=error)

        self._run(attempt)

    def mark_published(self, intent_id: str, published_id: str) -> None:
        from google.cloud import firestore

        @firestore.transactional
        def attempt(tx: Any) -> None:
            ref = self._ref(intent_id)
            ref.get(transaction=tx, **self._call)
            tx.update(ref, {"resultPublished": True, "resultMessageId": published_id})
            self._event(tx, intent_id, "result published", resultMessageId=published_id)

        self._run(attempt)

    def audit(self, intent_id: str, kind: str, detail: dict[str, Any]) -> None:
        """Append an audit event outside any transaction (orders placed, fills)."""
        from google.api_core import exceptions

        ref = self._ref(intent_id).collection("events").document()
        try:
            ref.create(
                {"type": kind, "at": _now(), "owner": self.settings.instance_id, **detail},
                **self._call,
            )
        except (exceptions.RetryError, exceptions.ServiceUnavailable) as exc:
            raise StoreUnavailable(f"Firestore unavailable: {exc.__class__.__name__}") from exc
