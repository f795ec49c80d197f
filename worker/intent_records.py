"""One intent record on Firestore: `intents/{mode}:{id}` and its audit trail `events`.

Every write is one batch: the record and its events together, with a precondition (the record
must not exist yet, or must be unchanged since it was read), so a claim is atomic without a
transaction. Writes start from a guess (a new id does not exist; a record this process claimed,
ran or renewed last is as that write left it) and read the record only when the precondition
says the guess was wrong.
What the records mean is decided in `worker.store_decisions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from worker.database import Database
from worker.database.layout import record_key as record_key
from worker.exceptions import StoreUnavailable
from worker.record_types import IntentRecord

_CONTENTION_RETRIES = 5
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Doc:
    """A record as read (or as guessed): its data and the update time to write against."""

    exists: bool
    data: IntentRecord = field(default_factory=lambda: IntentRecord())
    update_time: Any = None


ABSENT = Doc(exists=False)


class Changed(Exception):
    """The record is not as assumed; read it and decide again."""


class RecordWriter:
    """Reads and writes the records of one trading mode for one owner (this process)."""

    def __init__(self, db: Database, trading_mode: str, owner: str) -> None:
        self.db = db
        self.trading_mode = trading_mode
        self.owner = owner
        # intent id -> (update time, fields) of this process's last claim, run record or renewal
        # that landed: the guess its next write of the record starts from.
        self._written: dict[str, tuple[Any, dict[str, Any]]] = {}

    def ref(self, intent_id: str) -> Any:
        return self.db.collection("intents").document(record_key(self.trading_mode, intent_id))

    def read(self, intent_id: str) -> Doc:
        snap = self.db.get(self.ref(intent_id))
        # Firestore hands back plain dicts: the record as this module wrote it.
        return Doc(snap.exists, cast(IntentRecord, snap.to_dict() or {}), snap.update_time)

    def commit(
        self,
        intent_id: str,
        base: Doc | None,
        doc: dict[str, Any] | None,
        events: Sequence[Mapping[str, Any]],
        remember: bool = False,
    ) -> None:
        """Write the record (created when `base` is absent, else updated when `base` is
        unchanged, or unconditionally without a base) and its events, in one batch.
        `remember`: once it landed, the next write of this record starts from it (`mine`)."""
        from google.api_core import exceptions
        from google.cloud import firestore

        batch, ref, now = self.db.batch(), self.ref(intent_id), utcnow()
        if doc is not None and base is not None and not base.exists:
            batch.create(ref, {**doc, "updatedAt": now})
        elif doc is not None:
            if base is not None and base.data.get("status") == "rejected" and "id" in doc:
                # A rejected record gives its id to this message's new record: replace it whole.
                doc = {**{k: firestore.DELETE_FIELD for k in base.data}, **doc}
            option = None
            if base is not None and base.update_time is not None:
                option = self.db.unchanged_since(base.update_time)
            batch.update(ref, {**doc, "updatedAt": now}, option=option)
        for i, event in enumerate(events):
            # Distinct times keep the audit trail in order when read back sorted by `at`.
            entry = {"at": now + timedelta(microseconds=i), "owner": self.owner, **event}
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
            raise Changed from None
        if remember and doc is not None:
            self._written[intent_id] = (written[0].update_time, _plain(doc))

    def retrying(self, intent_id: str, guess: Doc | None, attempt: Callable[[Doc], T]) -> T:
        """Decide and write on `guess` (or a fresh read) until the write's precondition holds."""
        doc = guess or self.read(intent_id)
        for _ in range(_CONTENTION_RETRIES):
            try:
                return attempt(doc)
            except Changed:
                doc = self.read(intent_id)
        raise StoreUnavailable("intent record kept changing under contention")

    def mine(self, intent_id: str) -> Doc | None:
        """The guess for an intent this process claimed, ran or renewed last: unchanged since,
        holding what that write wrote."""
        written = self._written.get(intent_id)
        return Doc(True, cast(IntentRecord, written[1]), written[0]) if written else None

    def forget(self, intent_id: str) -> None:
        """This process is done writing the record: no more guesses about it."""
        self._written.pop(intent_id, None)


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields of a write as they read back, without those the server computes (array
    unions, deletions): enough to decide on (status, lease, publishing, result)."""
    from google.cloud.firestore import ArrayRemove, ArrayUnion
    from google.cloud.firestore_v1.transforms import Sentinel

    computed = (Sentinel, ArrayUnion, ArrayRemove)
    return {k: v for k, v in doc.items() if not isinstance(v, computed)}
