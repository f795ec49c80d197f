"""The intent records of one trading mode: read, decide, commit, and decide again when the record
changed in between.

What a record means for a message is decided by the pure functions of `worker.store_decisions`;
how a record is read and written (one batch with its events and a precondition) is
`worker.intent_records`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from worker import store_decisions as decide
from worker.database import Database
from worker.exceptions import StoreRefused
from worker.intent_records import ABSENT, Doc, RecordWriter, record_key, utcnow
from worker.record_types import TERMINAL, Claim, IntentRecord, Released, RequestFields
from worker.results import ResultMessage
from worker.settings import Settings
from worker.store_decisions import Decided, Write

log = logging.getLogger("worker.store")
T = TypeVar("T")
__all__ = ["TERMINAL", "Claim", "IntentStore", "record_key"]


class IntentStore:
    """The intent records of this worker's trading mode."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.owner = settings.instance_id
        self.terms = decide.Terms.of(settings)
        self.records = RecordWriter(db, settings.trading_mode, self.owner)

    def claim(self, intent_id: str, fields: RequestFields, message_id: str) -> Claim:
        """Take the intent for one attempt, or say why not (`store_decisions.claim`)."""
        return self._settle(
            intent_id,
            ABSENT,
            lambda record: decide.claim(
                intent_id, record, fields, message_id, utcnow(), self.terms
            ),
        )

    def close(
        self, intent_id: str, fields: RequestFields, result: ResultMessage, message_id: str
    ) -> Claim:
        """End an intent on arrival with `result` (expired, dead-lettered), unless it ended or
        runs; the claim's record holds the result to publish (`store_decisions.close`)."""
        return self._settle(
            intent_id,
            ABSENT,
            lambda record: decide.close(
                intent_id, record, fields, result, message_id, utcnow(), self.terms
            ),
        )

    def reject(
        self, intent_id: str, fields: RequestFields, result: ResultMessage, message_id: str
    ) -> None:
        """Record a rejection whose result is already published (`store_decisions.reject`)."""

        def decided(record: IntentRecord | None) -> Decided[None]:
            now = utcnow()
            return Decided(
                None, decide.reject(intent_id, record, fields, result, message_id, now, self.terms)
            )

        self._settle(intent_id, ABSENT, decided)

    def finish(self, intent_id: str, result: ResultMessage) -> Claim:
        """Record the terminal status: `run` (publish it), `lost` or `ended`
        (`store_decisions.finish`). Another's record is never overwritten."""
        claim = self._settle(
            intent_id,
            self.records.mine(intent_id),
            lambda record: decide.finish(record, result, utcnow(), self.terms),
        )
        if claim.kind == "lost":
            self.records.forget(intent_id)
        return claim

    def record_run(
        self, intent_id: str, fields: RequestFields, result: ResultMessage, message_id: str
    ) -> Claim | None:
        """The record of a run without a claim (an intent without side effects), created at its
        end; None when earlier attempts left the intent unfinished, which only claim() continues
        (`store_decisions.record_run`)."""

        def decided(record: IntentRecord | None) -> Decided[Claim | None]:
            now = utcnow()
            ran = decide.record_run(intent_id, record, fields, result, message_id, now, self.terms)
            if ran is None:
                return Decided(None)
            return ran

        return self._settle(intent_id, ABSENT, decided)

    def release(
        self, intent_id: str, error: dict[str, Any], attempts: int, count: bool = True
    ) -> Released:
        """Give the intent back for a redelivery; `count=False` does not use up the attempt
        (`store_decisions.release`)."""
        released = self._settle(
            intent_id,
            self.records.mine(intent_id),
            lambda record: decide.release(record, error, attempts, count, self.terms),
        )
        self.records.forget(intent_id)
        return released

    def renew(self, intent_id: str) -> bool:
        """Extend this attempt's lease: True only once the extension is written, False once the
        intent ended or another owner has it. A record written between the read and the write
        is read again and decided again (it may have been taken over meanwhile)."""
        return self._settle(
            intent_id, None, lambda record: decide.renew(record, utcnow(), self.terms)
        )

    def mark_published(self, intent_id: str, published_id: str) -> None:
        """Note that the result went out, so a redelivery does not publish it again."""
        write = decide.published(published_id)
        self.records.retrying(
            intent_id, Doc(True), lambda doc: self._commit(intent_id, None, write)
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

    # -- read, decide, commit -----------------------------------------------------------------

    def _settle(
        self,
        intent_id: str,
        guess: Doc | None,
        decided: Callable[[IntentRecord | None], Decided[T]],
    ) -> T:
        """Decide on `guess` (or a fresh read) and commit the decision's write, again on a fresh
        read for as long as the write's precondition finds the record changed."""

        def attempt(doc: Doc) -> T:
            decision = decided(doc.data if doc.exists else None)
            if decision.write is not None:
                self._commit(intent_id, doc, decision.write)
            return decision.answer

        return self.records.retrying(intent_id, guess, attempt)

    def _commit(self, intent_id: str, base: Doc | None, write: Write) -> None:
        from google.cloud import firestore

        fields: dict[str, Any] = dict(write.fields)
        if write.add_message is not None:
            fields["messageIds"] = firestore.ArrayUnion([write.add_message])
        for name in write.drop:
            fields[name] = firestore.DELETE_FIELD
        try:
            self.records.commit(intent_id, base, fields, write.events, remember=write.remember)
        except StoreRefused as exc:
            if not write.note:
                raise
            # A record near Firestore's size limit: the note is lost.
            log.warning("could not note message %s on %s: %s", write.add_message, intent_id, exc)
