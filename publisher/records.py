"""Reading what the worker recorded in Firestore, for the CLI and the dashboard alike.

`intents/{mode}:{id}` and their `events`, the strategies' holdings and unreconciled orders under
`positions/{mode}`, and the trading config (`config/common` merged with `config/{mode}`). Every
call goes through the Firestore layer (`worker.database`) as a reader: a short deadline, and every
Firestore error becomes StoreUnavailable (NoCredentials without credentials), so a caller can say
"Firestore is not answering" instead of hanging or showing a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.config_rules import merge
from worker.database import STATUSES as STATUSES
from worker.database import Database, Options, deadlines, record_key

MODES = ("paper", "live")


@dataclass(frozen=True)
class IntentQuery:
    """Which intents to list: newest first, `limit` of them, after the record key `after`."""

    mode: str | None = None
    intent: str | None = None
    status: str | None = None
    since: datetime | None = None  # receivedAt >= since
    until: datetime | None = None  # receivedAt < until
    limit: int = 25
    after: str | None = None  # the record key of the last intent of the previous page


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_after: str | None  # the cursor of the next (older) page, None on the last page


class Records:
    """One Firestore client and deadline; `client` may be given (tests, an existing client)."""

    def __init__(
        self, client: Any = None, project: str | None = None, timeout: float | None = None
    ) -> None:
        self.project = project
        self.timeout = deadlines.PAGE_SECONDS if timeout is None else timeout
        where = Options(project or os.environ.get("GOOGLE_CLOUD_PROJECT") or None, self.timeout)
        self.db = Database(where, client, decides_conflicts=False)

    # -- intents ---------------------------------------------------------------------------

    def _intent_ref(self, mode: str, intent_id: str) -> Any:
        return self.db.collection("intents").document(record_key(mode, intent_id))

    def intent(self, mode: str, intent_id: str) -> dict[str, Any] | None:
        """The record of intent `intent_id` in trading mode `mode`, or None."""
        snap = self.db.get(self._intent_ref(mode, intent_id))
        return _with_key(snap) if snap.exists else None

    def events(self, mode: str, intent_id: str) -> list[dict[str, Any]]:
        """The intent's audit trail, oldest first."""
        query = self._intent_ref(mode, intent_id).collection("events").order_by("at")
        return [d.to_dict() or {} for d in self.db.stream(query)]

    def list_intents(self, query: IntentQuery) -> Page:
        """A page of intent records, newest first (by receivedAt)."""
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        q: Any = self.db.collection("intents")
        for field, value in (
            ("tradingMode", query.mode),
            ("intent", query.intent),
            ("status", query.status),
        ):
            if value is not None:
                q = q.where(filter=FieldFilter(field, "==", value))
        if query.since is not None:
            q = q.where(filter=FieldFilter("receivedAt", ">=", query.since))
        if query.until is not None:
            q = q.where(filter=FieldFilter("receivedAt", "<", query.until))
        q = q.order_by("receivedAt", direction=firestore.Query.DESCENDING)
        if query.after is not None:
            cursor = self.db.get(self.db.collection("intents").document(query.after))
            if not cursor.exists:
                raise LookupError(f"the intent {query.after} this page starts after is gone")
            q = q.start_after(cursor)
        docs = self.db.stream(q.limit(query.limit + 1))
        items = [_with_key(d) for d in docs[: query.limit]]
        more = len(docs) > query.limit
        return Page(items, items[-1]["_key"] if more and items else None)

    def finished(
        self,
        intent: str | None = None,
        mode: str | None = None,
        limit: int = 20,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """The most recently finished intents (newest first), optionally of one intent kind,
        trading mode and status."""
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        q: Any = self.db.collection("intents")
        for field, value in (("intent", intent), ("tradingMode", mode), ("status", status)):
            if value is not None:
                q = q.where(filter=FieldFilter(field, "==", value))
        q = q.order_by("finishedAt", direction=firestore.Query.DESCENDING).limit(limit)
        return [_with_key(d) for d in self.db.stream(q)]

    # -- holdings and config ---------------------------------------------------------------

    def holdings(self, mode: str) -> dict[str, dict[str, float]]:
        """{strategy: {conId: quantity}} of `positions/{mode}/holdings`."""
        docs = self.db.stream(self._positions(mode).collection("holdings"))
        return {
            d.id: {
                str(k): float(v) for k, v in ((d.to_dict() or {}).get("positions") or {}).items()
            }
            for d in docs
        }

    def open_orders(self, mode: str) -> dict[str, dict[str, Any]]:
        """{orderRef: record} of `positions/{mode}/openOrders`: orders not yet reconciled."""
        docs = self.db.stream(self._positions(mode).collection("openOrders"))
        return {d.id: d.to_dict() or {} for d in docs}

    def booked(self, mode: str, since: datetime) -> list[dict[str, Any]]:
        """Markers of the orders booked into the holdings after `since`, oldest first:
        `positions/{mode}/booked` ({at, conId, quantity}, the orderRef under `orderRef`)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            self._positions(mode)
            .collection("booked")
            .where(filter=FieldFilter("at", ">", since))
            .order_by("at")
        )
        return [{**(d.to_dict() or {}), "orderRef": d.id} for d in self.db.stream(query)]

    def _positions(self, mode: str) -> Any:
        return self.db.collection("positions").document(mode)

    def config(self, mode: str) -> dict[str, Any]:
        """`config/common` merged with `config/{mode}` key by key (the mode wins), as the worker
        reads it (worker/trading/config.py)."""
        common, own = self.db.document("config", "common"), self.db.document("config", mode)
        found = self.db.get_all([common, own])
        return merge(found.get(common.path, {}), found.get(own.path, {}))


def _with_key(snap: Any) -> dict[str, Any]:
    """The document's data with its key under `_key` (`mode:id`)."""
    return {**(snap.to_dict() or {}), "_key": snap.id}
