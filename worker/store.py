"""What the intent records decide: claims, rejections, endings, leases and the publishing hold.

What an existing record means for a new message is decided in one place, `_existing`; how a
record is read and written (one batch with its events and a precondition) is
`worker.intent_records`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from worker.database import Database
from worker.exceptions import StoreRefused
from worker.intent_records import ABSENT, Doc, RecordWriter, record_key, utcnow
from worker.lease_renewal import held_by_other
from worker.settings import Settings

TERMINAL = ("succeeded", "failed", "rejected", "expired")
log = logging.getLogger("worker.store")
__all__ = ["TERMINAL", "Claim", "IntentStore", "record_key"]


@dataclass(frozen=True)
class Claim:
    """What the store decided for a message.

    kind: `run` (this attempt owns the intent, or the result in `record` is to be published),
    `ended` (already terminal), `busy` (running elsewhere under a live lease, or its result being
    published elsewhere), `exhausted` (no attempts left), `reused` (the id belongs to a message
    asking for something else), `lost` (another instance took the intent over).
    """

    kind: str
    attempts: int = 0
    record: dict[str, Any] = field(default_factory=dict)


class IntentStore:
    """The intent records of this worker's trading mode."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.owner = settings.instance_id
        self.records = RecordWriter(db, settings.trading_mode, self.owner)

    # -- decisions ----------------------------------------------------------------------------

    def claim(self, intent_id: str, fields: dict[str, Any], message_id: str) -> Claim:
        """Take the intent for one attempt, or say why not."""

        def attempt(doc: Doc) -> Claim:
            decided = self._existing(doc, fields)
            if decided is not None:
                return self._noted(intent_id, doc, message_id, decided)
            attempts = int(doc.data.get("attempts", 0)) + 1 if doc.exists else 1
            if attempts > self.settings.max_attempts:
                return Claim("exhausted", attempts - 1, doc.data)
            held = doc.data.get("lease") or {}
            kind = "taken over" if held.get("owner") not in (None, self.owner) else "claimed"
            now = utcnow()
            running = {"status": "running", "attempts": attempts, "lease": self._lease(now)}
            events = [{"type": kind, "messageId": message_id, "attempt": attempts}]
            if kind == "taken over":
                events[0]["previousOwner"] = held.get("owner")
            if doc.exists and doc.data.get("status") != "rejected":
                update = {**running, "messageIds": self._union(message_id), "startedAt": now}
                self.records.commit(intent_id, doc, update, events, remember=True)
            else:
                fresh = (
                    self._fresh(intent_id, fields, message_id, now) | running | {"startedAt": now}
                )
                received = _received(message_id)
                self.records.commit(intent_id, doc, fresh, [received, *events], remember=True)
            return Claim("run", attempts, doc.data)

        return self.records.retrying(intent_id, ABSENT, attempt)

    def close(
        self, intent_id: str, fields: dict[str, Any], result: dict[str, Any], message_id: str
    ) -> Claim:
        """End an intent on arrival with `result` (expired, dead-lettered): a new record, or an
        unfinished one no live lease protects. The claim's record holds the result to publish:
        an expiry after attempts that may have traded is a failure, not `expired`."""

        def attempt(doc: Doc) -> Claim:
            decided = self._existing(doc, fields)
            if decided is not None:
                return self._noted(intent_id, doc, message_id, decided)
            now, attempts = utcnow(), int(doc.data.get("attempts", 0))
            ended = _after_attempts(result, attempts)
            terminal = {
                "status": ended["status"],
                "finishedAt": now,
                "error": ended["error"],
                "result": ended["result"],
                "resultMessage": ended,
                "resultPublished": False,
                "publishing": self._publishing(now),
            }
            event = {"type": ended["status"], "messageId": message_id, "error": ended["error"]}
            if doc.exists and doc.data.get("status") != "rejected":
                update = {**terminal, "messageIds": self._union(message_id)}
                self.records.commit(intent_id, doc, update | self._no_lease(), [event])
            else:
                fresh = self._fresh(intent_id, fields, message_id, now) | terminal
                self.records.commit(intent_id, doc, fresh, [_received(message_id), event])
            return Claim("run", attempts, {"resultMessage": ended})

        return self.records.retrying(intent_id, ABSENT, attempt)

    def reject(
        self, intent_id: str, fields: dict[str, Any], result: dict[str, Any], message_id: str
    ) -> None:
        """Record a rejection whose result is already published. A rejection never takes an id:
        its record is replaced by the next valid message with the id, and an id in use keeps
        its record (the rejection is one more event there)."""
        event = {"type": "rejected", "messageId": message_id, "error": result["error"]}

        def attempt(doc: Doc) -> None:
            if not doc.exists:
                record = self._fresh(intent_id, fields, message_id, utcnow()) | {
                    "status": "rejected",
                    "attempts": 0,
                    "finishedAt": utcnow(),
                    "error": result["error"],
                    "result": result["result"],
                    "resultMessage": result,
                    "resultPublished": True,
                }
                self.records.commit(intent_id, doc, record, [_received(message_id), event])
            elif message_id not in doc.data.get("messageIds", []):
                self.records.commit(
                    intent_id, doc, {"messageIds": self._union(message_id)}, [event]
                )

        self.records.retrying(intent_id, ABSENT, attempt)

    def finish(self, intent_id: str, result: dict[str, Any]) -> Claim:
        """Record the terminal status: `run` (publish it); `lost` while another instance runs
        the intent (it took it over) or publishes its result (it ended it meanwhile: a takeover
        that finished first, an expiry or a dead letter); `ended` when another ended it and
        nobody publishes its result now. Another's record is never overwritten."""

        def attempt(doc: Doc) -> Claim:
            data, now = doc.data, utcnow()
            if held_by_other(data.get("lease"), self.owner, now) or (
                not data.get("resultPublished")
                and held_by_other(data.get("publishing"), self.owner, now)
            ):
                return Claim("lost", data.get("attempts", 0), data)
            if data.get("status") in TERMINAL and data.get("resultMessage"):
                return Claim("ended", data.get("attempts", 0), data)
            update = {
                "status": result["status"],
                "result": result["result"],
                "error": result["error"],
                "finishedAt": utcnow(),
                "resultMessage": result,
                "resultPublished": False,
                "publishing": self._publishing(utcnow()),
                **self._no_lease(),
            }
            event = {
                "type": "finished",
                "status": result["status"],
                "error": result["error"],
                "attempt": result["attempts"],
            }
            self.records.commit(intent_id, doc, update, [event])
            return Claim("run", result["attempts"], {"resultMessage": result})

        claim = self.records.retrying(intent_id, self.records.mine(intent_id), attempt)
        if claim.kind == "lost":
            self.records.forget(intent_id)
        return claim

    def record_run(
        self, intent_id: str, fields: dict[str, Any], result: dict[str, Any], message_id: str
    ) -> Claim | None:
        """The record of a run without a claim (an intent without side effects): created at its
        end with the events of its arrival, claim and end, in one batch whose precondition (the
        id is new, or held only a rejection) is the claim. `run`: publish the result; an existing
        record decides as it does for claim(); None when earlier attempts left the intent
        unfinished, which only claim() continues (it counts attempts)."""

        def attempt(doc: Doc) -> Claim | None:
            decided = self._existing(doc, fields)
            if decided is not None:
                return self._noted(intent_id, doc, message_id, decided)
            if doc.exists and doc.data.get("status") != "rejected":
                return None
            now, status = utcnow(), result["status"]
            ended = {"status": status, "attempts": 1, "startedAt": now, "finishedAt": now}
            record = self._fresh(intent_id, fields, message_id, now) | ended
            record |= {"result": result["result"], "error": result["error"]}
            record |= {"resultMessage": result, "publishing": self._publishing(now)}
            events = [
                _received(message_id),
                {"type": "claimed", "messageId": message_id, "attempt": 1},
                {"type": "finished", "status": status, "error": result["error"], "attempt": 1},
            ]
            self.records.commit(intent_id, doc, record, events, remember=True)
            return Claim("run", 1, {"resultMessage": result})

        return self.records.retrying(intent_id, ABSENT, attempt)

    def release(
        self, intent_id: str, error: dict[str, Any], attempts: int, count: bool = True
    ) -> str:
        """Give the intent back for a redelivery; `count=False` does not use up the attempt.
        `released`; or, with nothing written, `ended` (it ended meanwhile) or `taken over`
        (another instance took it over and runs it)."""
        fields: dict[str, Any] = {"status": "received", **self._no_lease()}
        if count:
            fields["lastError"] = error
            event = {"type": "attempt failed", "attempt": attempts, "error": error}
        else:
            fields["attempts"] = attempts - 1
            event = {"type": "attempt returned", "attempt": attempts, "reason": error["message"]}

        def attempt(doc: Doc) -> str:
            # Ended or taken over meanwhile: that is the record to keep.
            if doc.data.get("status") in TERMINAL:
                return "ended"
            if (doc.data.get("lease") or {}).get("owner") not in (None, self.owner):
                return "taken over"
            self.records.commit(intent_id, doc, fields, [event])
            return "released"

        released = self.records.retrying(intent_id, self.records.mine(intent_id), attempt)
        self.records.forget(intent_id)
        return released

    def renew(self, intent_id: str) -> bool:
        """Extend this attempt's lease: True only once the extension is written, False once the
        intent ended or another owner has it. A record written between the read and the write
        is read again and decided again (it may have been taken over meanwhile)."""

        def attempt(doc: Doc) -> bool:
            lease = doc.data.get("lease") or {}
            if doc.data.get("status") != "running" or lease.get("owner") != self.owner:
                return False
            lease = {"status": "running", "lease": self._lease(utcnow())}
            self.records.commit(intent_id, doc, lease, [], remember=True)
            return True

        return self.records.retrying(intent_id, None, attempt)

    def mark_published(self, intent_id: str, published_id: str) -> None:
        """Note that the result went out, so a redelivery does not publish it again."""
        from google.cloud import firestore

        update = {
            "resultPublished": True,
            "resultMessageId": published_id,
            "publishing": firestore.DELETE_FIELD,
        }
        event = {"type": "result published", "resultMessageId": published_id}
        self.records.retrying(
            intent_id, Doc(True), lambda doc: self.records.commit(intent_id, None, update, [event])
        )
        self.records.forget(intent_id)

    def audit(self, intent_id: str, kind: str, detail: dict[str, Any]) -> None:
        """Append an audit event (orders placed, fills) without touching the intent record."""
        event = {"type": kind, **detail}
        self.records.retrying(
            intent_id, Doc(True), lambda doc: self.records.commit(intent_id, None, None, [event])
        )

    def find(self, fingerprint: str, published_ms: int) -> str | None:
        """The id of the intent a message started, by what it asked and when it was published
        (how a dead-lettered copy, which has a new message id, finds its record)."""
        from google.cloud.firestore import FieldFilter

        query = self.db.collection("intents")
        for name, value in (
            ("tradingMode", self.settings.trading_mode),
            ("fingerprint", fingerprint),
            ("publishedAtMs", published_ms),
        ):
            query = query.where(filter=FieldFilter(name, "==", value))
        found = self.db.stream(query.limit(1))
        return found[0].to_dict().get("id") if found else None

    def _existing(self, doc: Doc, fields: dict[str, Any]) -> Claim | None:
        """What an existing record means for a new valid message, or None to go ahead. A rejected
        record never holds its id; a record of a different request makes the id `reused`."""
        data = doc.data
        if not doc.exists or data.get("status") == "rejected":
            return None
        attempts = data.get("attempts", 0)
        if data.get("fingerprint") not in (None, fields.get("fingerprint")):
            return Claim("reused", attempts, data)
        if data.get("status") in TERMINAL:
            if not data.get("resultPublished") and held_by_other(
                data.get("publishing"), self.owner, utcnow()
            ):
                return Claim("busy", attempts, data)  # another instance publishes its result
            return Claim("ended", attempts, data)
        if held_by_other(data.get("lease"), self.owner, utcnow()):
            return Claim("busy", attempts, data)
        return None

    def _noted(self, intent_id: str, doc: Doc, message_id: str, claim: Claim) -> Claim:
        """Add the message to a record it cannot change: an audit event for every duplicate
        delivery and for each message reusing the id (whose rejection is published once); a busy
        record is left alone, its message comes back."""
        known = message_id in doc.data.get("messageIds", [])
        if claim.kind == "ended" or (claim.kind == "reused" and not known):
            kind = "duplicate" if claim.kind == "ended" else "id reused"
            try:
                self.records.commit(
                    intent_id,
                    doc,
                    {"messageIds": self._union(message_id)},
                    [{"type": kind, "messageId": message_id}],
                )
            except StoreRefused as exc:  # a record near Firestore's size limit: the note is lost
                log.warning("could not note message %s on %s: %s", message_id, intent_id, exc)
        return claim

    # -- plumbing -----------------------------------------------------------------------------

    def _fresh(
        self, intent_id: str, fields: dict[str, Any], message_id: str, now: datetime
    ) -> dict[str, Any]:
        return {
            **fields,
            "id": intent_id,
            "messageIds": [message_id],
            "receivedAt": now,
            "resultPublished": False,
            "expireAt": now + timedelta(days=self.settings.record_ttl_days),
        }

    def _lease(self, now: datetime) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "expiresAt": now + timedelta(seconds=self.settings.lease_seconds),
        }

    def _publishing(self, now: datetime) -> dict[str, Any]:
        """Who publishes the result of an intent that just ended, and until when: meanwhile a
        redelivery elsewhere waits (429) instead of publishing it a second time."""
        s = self.settings
        seconds = max(s.lease_seconds, s.publish_timeout_seconds + s.firestore_timeout_seconds)
        return {"owner": self.owner, "expiresAt": now + timedelta(seconds=seconds)}

    @staticmethod
    def _no_lease() -> dict[str, Any]:
        from google.cloud import firestore

        return {"lease": firestore.DELETE_FIELD}

    @staticmethod
    def _union(message_id: str) -> Any:
        from google.cloud import firestore

        return firestore.ArrayUnion([message_id])


def _received(message_id: str) -> dict[str, Any]:
    return {"type": "received", "messageId": message_id}


def _after_attempts(result: dict[str, Any], attempts: int) -> dict[str, Any]:
    """An arrival-time result for an intent earlier attempts ran: one that may have partly run
    (its orders wait in openOrders) did not "expire" (never executed), it failed, and says so."""
    if not attempts or result["status"] != "expired":
        return {**result, "attempts": attempts}
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
