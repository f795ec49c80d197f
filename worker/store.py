"""Firestore records: claiming `intents/{id}`, terminal records and the audit trail.

Every write is a batch committed with a precondition (the document must not exist, or must be
unchanged since it was read), so claims are atomic without transactions, and every call has a
deadline: when Firestore is unreachable the delivery gets a 503 within seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from worker.config import Settings

TERMINAL = ("succeeded", "failed", "rejected", "expired")
_CONTENTION_RETRIES = 5


class StoreUnavailable(Exception):
    """Firestore could not be reached in time; the delivery should be retried."""


@dataclass(frozen=True)
class Claim:
    """What claiming an intent id decided.

    kind: `run` (this attempt owns it), `ended` (already terminal), `busy` (running elsewhere
    under a live lease), `exhausted` (no attempts left) or `pending` (exists, not terminal,
    met by a message that cannot run).
    """

    kind: str
    attempts: int = 0
    record: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


class _Changed(Exception):
    """The document changed between read and write; read again."""


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

    def _read(self, intent_id: str) -> Any:
        return self._ref(intent_id).get(**self._call)

    def _commit(
        self,
        intent_id: str,
        snap: Any,
        doc: dict[str, Any] | None,
        events: list[dict[str, Any]],
        create: bool = False,
    ) -> None:
        """Write the document (create, or update if unchanged since `snap`) and its events."""
        from google.api_core import exceptions

        batch, ref, now = self.client.batch(), self._ref(intent_id), _now()
        if create:
            batch.create(ref, doc)
        elif doc is not None:
            batch.update(
                ref, doc, option=self.client.write_option(last_update_time=snap.update_time)
            )
        for i, event in enumerate(events):
            # Distinct times keep the audit trail in order when read back sorted by `at`.
            entry = {"at": now + timedelta(microseconds=i), "owner": self.settings.instance_id}
            entry.update(event)
            batch.create(ref.collection("events").document(), entry)
        try:
            batch.commit(**self._call)
        except (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.Conflict):
            raise _Changed from None

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        """Run read-decide-write until it commits on an unchanged document."""
        from google.api_core import exceptions

        try:
            for _ in range(_CONTENTION_RETRIES):
                try:
                    return attempt()
                except _Changed:
                    continue
            raise StoreUnavailable("intent record kept changing under contention")
        except (
            exceptions.RetryError,
            exceptions.ServiceUnavailable,
            exceptions.DeadlineExceeded,
            exceptions.InternalServerError,
        ) as exc:
            raise StoreUnavailable(f"Firestore unavailable: {exc.__class__.__name__}") from exc

    def claim(self, intent_id: str, fields: dict[str, Any], message_id: str) -> Claim:
        """Take `intents/{id}` for one attempt, or say why not."""
        from google.cloud import firestore

        settings, owner = self.settings, self.settings.instance_id

        def attempt() -> Claim:
            snap, now = self._read(intent_id), _now()
            lease = {"owner": owner, "expiresAt": now + timedelta(seconds=settings.lease_seconds)}
            if not snap.exists:
                doc = {
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
                }
                self._commit(
                    intent_id,
                    snap,
                    doc,
                    [
                        {"type": "received", "messageId": message_id},
                        {"type": "claimed", "messageId": message_id, "attempt": 1},
                    ],
                    create=True,
                )
                return Claim("run", attempts=1)
            record = snap.to_dict()
            ids = firestore.ArrayUnion([message_id])
            if record.get("status") in TERMINAL:
                self._commit(
                    intent_id,
                    snap,
                    {"messageIds": ids, "updatedAt": now},
                    [{"type": "duplicate", "messageId": message_id}],
                )
                return Claim("ended", attempts=record.get("attempts", 0), record=record)
            held = record.get("lease") or {}
            if held.get("owner") not in (None, owner) and held.get("expiresAt", now) > now:
                return Claim("busy", attempts=record.get("attempts", 0), record=record)
            attempts = int(record.get("attempts", 0)) + 1
            if attempts > settings.max_attempts:
                return Claim("exhausted", attempts=attempts - 1, record=record)
            kind = "taken over" if held.get("owner") not in (None, owner) else "claimed"
            self._commit(
                intent_id,
                snap,
                {
                    "status": "running",
                    "attempts": attempts,
                    "lease": lease,
                    "messageIds": ids,
                    "startedAt": now,
                    "updatedAt": now,
                },
                [
                    {
                        "type": kind,
                        "messageId": message_id,
                        "attempt": attempts,
                        "previousOwner": held.get("owner"),
                    }
                ],
            )
            return Claim("run", attempts=attempts, record=record)

        return self._retrying(attempt)

    def close_new(
        self, intent_id: str, fields: dict[str, Any], result: dict[str, Any], message_id: str
    ) -> Claim:
        """Record an intent that ends on arrival (rejected, expired) unless the id is taken."""
        from google.cloud import firestore

        def attempt() -> Claim:
            snap, now = self._read(intent_id), _now()
            if snap.exists:
                record = snap.to_dict()
                self._commit(
                    intent_id,
                    snap,
                    {"messageIds": firestore.ArrayUnion([message_id]), "updatedAt": now},
                    [
                        {
                            "type": "duplicate",
                            "messageId": message_id,
                            "note": f"a later message with this id was {result['status']}",
                        }
                    ],
                )
                ended = record.get("status") in TERMINAL
                return Claim("ended" if ended else "pending", record=record)
            doc = {
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
            }
            self._commit(
                intent_id,
                snap,
                doc,
                [
                    {"type": "received", "messageId": message_id},
                    {"type": result["status"], "messageId": message_id, "error": result["error"]},
                ],
                create=True,
            )
            return Claim("run", record={"resultMessage": result})

        return self._retrying(attempt)

    def finish(self, intent_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """Record the terminal status; returns the result to publish (an earlier one if any)."""
        from google.cloud import firestore

        def attempt() -> dict[str, Any]:
            snap, now = self._read(intent_id), _now()
            record = snap.to_dict() or {}
            if record.get("status") in TERMINAL and record.get("resultMessage"):
                return record["resultMessage"]
            self._commit(
                intent_id,
                snap,
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
                [
                    {
                        "type": "finished",
                        "status": result["status"],
                        "error": result["error"],
                        "attempt": result["attempts"],
                    }
                ],
            )
            return result

        return self._retrying(attempt)

    def release(self, intent_id: str, error: dict[str, Any], attempts: int) -> None:
        """Give the intent back after a retryable failure, keeping the attempt count."""
        from google.cloud import firestore

        def attempt() -> None:
            snap = self._read(intent_id)
            self._commit(
                intent_id,
                snap,
                {
                    "status": "received",
                    "lastError": error,
                    "updatedAt": _now(),
                    "lease": firestore.DELETE_FIELD,
                },
                [{"type": "attempt failed", "attempt": attempts, "error": error}],
            )

        self._retrying(attempt)

    def mark_published(self, intent_id: str, published_id: str) -> None:
        def attempt() -> None:
            snap = self._read(intent_id)
            self._commit(
                intent_id,
                snap,
                {"resultPublished": True, "resultMessageId": published_id},
                [{"type": "result published", "resultMessageId": published_id}],
            )

        self._retrying(attempt)

    def audit(self, intent_id: str, kind: str, detail: dict[str, Any]) -> None:
        """Append an audit event (orders placed, fills) without touching the intent record."""
        self._retrying(lambda: self._commit(intent_id, None, None, [{"type": kind, **detail}]))
