"""Firestore records: claiming `intents/{id}`, terminal records and the audit trail.

Every write is a batch committed with a precondition (the document must not exist, or must be
unchanged since it was read), so claims are atomic without transactions, and every call has a
deadline: when Firestore is unreachable the delivery gets a 503 within seconds, not minutes.
Writes start from a guess (a new id does not exist; an intent this process claimed is unchanged
since) and read the document only when the precondition says the guess was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from worker.database import Database
from worker.exceptions import StoreUnavailable
from worker.settings import Settings

TERMINAL = ("succeeded", "failed", "rejected", "expired")
_CONTENTION_RETRIES = 5
T = TypeVar("T")


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


@dataclass(frozen=True)
class _Doc:
    """A document as read (or as guessed): its data and the update time to write against."""

    exists: bool
    data: dict[str, Any] = field(default_factory=dict)
    update_time: Any = None


_ABSENT = _Doc(exists=False)


class _Changed(Exception):
    """The document is not as assumed; read it and decide again."""


def _now() -> datetime:
    return datetime.now(UTC)


def record_key(trading_mode: str, intent_id: str) -> str:
    """The document key of an intent: `intents/{mode}:{id}`. The mode keeps paper and live apart
    (the same id may run in both), and the prefix makes every valid id a key Firestore accepts
    (never `.`, `..` or `__x__`)."""
    return f"{trading_mode}:{intent_id}"


class IntentStore:
    """`intents/{mode}:{id}` documents of this worker's trading mode and their `events`."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._written: dict[str, Any] = {}  # intent id -> update time of this process's last write

    def _ref(self, intent_id: str) -> Any:
        return self.db.collection("intents").document(
            record_key(self.settings.trading_mode, intent_id)
        )

    def _read(self, intent_id: str) -> _Doc:
        snap = self.db.get(self._ref(intent_id))
        return _Doc(snap.exists, snap.to_dict() or {}, snap.update_time)

    def _commit(
        self,
        intent_id: str,
        base: _Doc | None,
        doc: dict[str, Any] | None,
        events: list[dict[str, Any]],
    ) -> None:
        """Create the document (base absent) or update it (base unchanged), with its events."""
        from google.api_core import exceptions

        batch, ref, now = self.db.client.batch(), self._ref(intent_id), _now()
        if doc is not None and base is not None and not base.exists:
            batch.create(ref, doc)
        elif doc is not None:
            option = None
            if base is not None and base.update_time is not None:
                option = self.db.client.write_option(last_update_time=base.update_time)
            batch.update(ref, doc, option=option)
        for i, event in enumerate(events):
            # Distinct times keep the audit trail in order when read back sorted by `at`.
            entry = {"at": now + timedelta(microseconds=i), "owner": self.settings.instance_id}
            entry.update(event)
            batch.create(ref.collection("events").document(), entry)
        try:
            written = self.db.commit(batch)
        except (
            exceptions.AlreadyExists,
            exceptions.FailedPrecondition,
            exceptions.Conflict,
            exceptions.NotFound,
        ):
            self._written.pop(intent_id, None)
            raise _Changed from None
        if doc is not None:
            self._written[intent_id] = written[0].update_time

    def _retrying(self, intent_id: str, guess: _Doc | None, attempt: Callable[[_Doc], T]) -> T:
        """Decide and write on `guess` (or a fresh read) until the write's precondition holds."""
        doc = guess or self._read(intent_id)
        for _ in range(_CONTENTION_RETRIES):
            try:
                return attempt(doc)
            except _Changed:
                doc = self._read(intent_id)
        raise StoreUnavailable("intent record kept changing under contention")

    def _mine(self, intent_id: str) -> _Doc | None:
        """The guess for an intent this process wrote last: unchanged and not terminal."""
        version = self._written.get(intent_id)
        return _Doc(True, {"status": "running"}, version) if version is not None else None

    def claim(self, intent_id: str, fields: dict[str, Any], message_id: str) -> Claim:
        """Take `intents/{id}` for one attempt, or say why not."""
        from google.cloud import firestore

        settings, owner = self.settings, self.settings.instance_id

        def attempt(doc: _Doc) -> Claim:
            now = _now()
            lease = {"owner": owner, "expiresAt": now + timedelta(seconds=settings.lease_seconds)}
            if not doc.exists:
                self._commit(
                    intent_id,
                    doc,
                    {
                        **fields,
                        "id": intent_id,
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
                    [
                        {"type": "received", "messageId": message_id},
                        {"type": "claimed", "messageId": message_id, "attempt": 1},
                    ],
                )
                return Claim("run", attempts=1)
            record = doc.data
            ids = firestore.ArrayUnion([message_id])
            if record.get("status") in TERMINAL:
                self._commit(
                    intent_id,
                    doc,
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
                doc,
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

        return self._retrying(intent_id, _ABSENT, attempt)

    def close_new(
        self,
        intent_id: str,
        fields: dict[str, Any],
        result: dict[str, Any],
        message_id: str,
        supersede: bool = False,
    ) -> Claim:
        """Record an intent that ends on arrival (rejected, expired) unless the id is taken.

        With `supersede`, an unfinished intent not running under a live lease ends too; the
        claim's record then holds the result to publish.
        """
        from google.cloud import firestore

        def attempt(doc: _Doc) -> Claim:
            if doc.exists and supersede and doc.data.get("status") not in TERMINAL:
                return self._supersede(intent_id, doc, result, message_id)
            now = _now()
            if doc.exists:
                self._commit(
                    intent_id,
                    doc,
                    {"messageIds": firestore.ArrayUnion([message_id]), "updatedAt": now},
                    [
                        {
                            "type": "duplicate",
                            "messageId": message_id,
                            "note": f"a later message with this id was {result['status']}",
                        }
                    ],
                )
                ended = doc.data.get("status") in TERMINAL
                return Claim("ended" if ended else "pending", record=doc.data)
            self._commit(
                intent_id,
                doc,
                {
                    **fields,
                    "id": intent_id,
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
                [
                    {"type": "received", "messageId": message_id},
                    {"type": result["status"], "messageId": message_id, "error": result["error"]},
                ],
            )
            return Claim("run", record={"resultMessage": result})

        return self._retrying(intent_id, _ABSENT, attempt)

    def _supersede(
        self, intent_id: str, doc: _Doc, result: dict[str, Any], message_id: str
    ) -> Claim:
        """End an unfinished intent with `result`, unless it runs elsewhere under a live lease."""
        from google.cloud import firestore

        now, record = _now(), doc.data
        held = record.get("lease") or {}
        mine = held.get("owner") in (None, self.settings.instance_id)
        if not mine and held.get("expiresAt", now) > now:
            return Claim("busy", attempts=record.get("attempts", 0), record=record)
        ended = _after_attempts(result, int(record.get("attempts", 0)))
        self._commit(
            intent_id,
            doc,
            {
                "status": ended["status"],
                "messageIds": firestore.ArrayUnion([message_id]),
                "finishedAt": now,
                "updatedAt": now,
                "lease": firestore.DELETE_FIELD,
                "error": ended["error"],
                "result": ended["result"],
                "resultMessage": ended,
                "resultPublished": False,
            },
            [{"type": ended["status"], "messageId": message_id, "error": ended["error"]}],
        )
        return Claim("run", attempts=ended["attempts"], record={"resultMessage": ended})

    def finish(self, intent_id: str, result: dict[str, Any]) -> Claim:
        """Record the terminal status: `run` (publish it), or `ended` when another attempt
        (one that took over this intent) recorded its own first."""
        from google.cloud import firestore

        def attempt(doc: _Doc) -> Claim:
            if doc.data.get("status") in TERMINAL and doc.data.get("resultMessage"):
                return Claim("ended", attempts=doc.data.get("attempts", 0), record=doc.data)
            now = _now()
            self._commit(
                intent_id,
                doc,
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
            return Claim("run", attempts=result["attempts"], record={"resultMessage": result})

        return self._retrying(intent_id, self._mine(intent_id), attempt)

    def release(
        self, intent_id: str, error: dict[str, Any], attempts: int, count: bool = True
    ) -> None:
        """Give the intent back for a redelivery; `count=False` does not use up the attempt."""
        from google.cloud import firestore

        fields: dict[str, Any] = {"status": "received", "lease": firestore.DELETE_FIELD}
        if count:
            fields["lastError"] = error
            event = {"type": "attempt failed", "attempt": attempts, "error": error}
        else:
            fields["attempts"] = attempts - 1
            event = {"type": "attempt returned", "attempt": attempts, "reason": error["message"]}

        def attempt(doc: _Doc) -> None:
            owner = (doc.data.get("lease") or {}).get("owner")
            if doc.data.get("status") in TERMINAL or owner not in (None, self.settings.instance_id):
                return  # ended or taken over meanwhile: that is the record to keep
            self._commit(intent_id, doc, {**fields, "updatedAt": _now()}, [event])

        self._retrying(intent_id, self._mine(intent_id), attempt)
        self._written.pop(intent_id, None)

    def mark_published(self, intent_id: str, published_id: str) -> None:
        """Note that the result went out, so a redelivery does not publish it again."""
        self._retrying(
            intent_id,
            _Doc(True),
            lambda doc: self._commit(
                intent_id,
                None,
                {"resultPublished": True, "resultMessageId": published_id},
                [{"type": "result published", "resultMessageId": published_id}],
            ),
        )
        self._written.pop(intent_id, None)

    def audit(self, intent_id: str, kind: str, detail: dict[str, Any]) -> None:
        """Append an audit event (orders placed, fills) without touching the intent record."""
        self._retrying(
            intent_id,
            _Doc(True),
            lambda doc: self._commit(intent_id, None, None, [{"type": kind, **detail}]),
        )


def _after_attempts(result: dict[str, Any], attempts: int) -> dict[str, Any]:
    """An arrival-time result for an intent earlier attempts ran: one that may have partly run
    (its orders wait in openOrders) did not "expire" (never executed), it failed, and says so."""
    if not attempts:
        return result
    message = (
        f"{result['error']['message']} after {attempts} attempt(s); it may have partly run: "
        "run trade-reconciliation"
    )
    return {
        **result,
        "status": "failed",
        "attempts": attempts,
        "error": {"code": "expired-after-attempts", "message": message, "retryable": False},
    }
