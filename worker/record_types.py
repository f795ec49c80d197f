"""The intent record as typed values: the Firestore document `intents/{mode}:{id}`, its
statuses, leases and audit events, and the claim the store answers with.

What the records decide is `worker.store_decisions`; how they are read and written is
`worker.intent_records`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Required, TypedDict

# The statuses are the Firestore layer's (what the publisher and the dashboard read too).
from worker.database.layout import TERMINAL as TERMINAL
from worker.database.layout import Status as Status
from worker.results import ResultMessage

ClaimKind = Literal["run", "ended", "busy", "exhausted", "reused", "lost"]
"""`run`: this attempt owns the intent, or the result in the claim's record is to be published;
`ended`: already terminal; `busy`: running elsewhere under a live lease, or its result being
published elsewhere; `exhausted`: no attempts left; `reused`: the id belongs to a message asking
for something else; `lost`: another instance took the intent over (or ended it)."""

Released = Literal["released", "ended", "taken over"]


class Lease(TypedDict):
    """Who may act on the record, and until when (`lease` while it runs, `publishing` from its
    terminal record until the result is out)."""

    owner: str
    expiresAt: datetime


class RequestFields(TypedDict):
    """What a message asks, as kept on its record."""

    intent: str | None
    params: dict[str, Any]
    tradingMode: str
    requestedBy: str | None
    fingerprint: str
    publishedAtMs: int | None


class IntentRecord(TypedDict, total=False):
    """The document `intents/{mode}:{id}` (docs/architecture.md, Firestore). Any field may be
    missing: a guess holds only what this process wrote last."""

    id: str
    intent: str | None
    params: dict[str, Any]
    tradingMode: str
    requestedBy: str | None
    fingerprint: str
    publishedAtMs: int | None
    status: Status
    attempts: int
    lease: Lease
    publishing: Lease
    messageIds: list[str]
    receivedAt: datetime
    startedAt: datetime
    finishedAt: datetime
    updatedAt: datetime
    result: dict[str, Any]
    error: dict[str, Any] | None
    lastError: dict[str, Any]
    resultMessage: ResultMessage
    resultPublished: bool
    resultMessageId: str
    expireAt: datetime


class Event(TypedDict, total=False):
    """An entry of the audit trail `intents/{mode}:{id}/events` (its time and owner are added
    when it is written)."""

    type: Required[str]
    messageId: str
    attempt: int
    previousOwner: str | None
    status: str
    error: dict[str, Any] | None
    reason: str
    resultMessageId: str


@dataclass(frozen=True)
class Claim:
    """What the store decided for a message (see `ClaimKind`), with the attempts counted and the
    record the caller answers from."""

    kind: ClaimKind
    attempts: int = 0
    record: IntentRecord = field(default_factory=lambda: IntentRecord())
