"""What the intent records decide, as pure functions: claims, rejections, endings, leases and the
publishing hold.

Each decision takes the record as read (None: there is none), what the message asks, the time
and the store's `Terms`, and returns a `Decided`: the answer for the caller and the one write
(or none) as data. `worker.store` reads, decides, commits and decides again when the record
changed in between; nothing here touches Firestore. The records' types: `worker.record_types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from worker.lease_renewal import held_by_other
from worker.record_types import (
    TERMINAL,
    Claim,
    Event,
    IntentRecord,
    Lease,
    Released,
    RequestFields,
)
from worker.results import ResultMessage
from worker.settings import Settings

T = TypeVar("T", covariant=True)


@dataclass(frozen=True)
class Write:
    """One batch: `fields` set on the record (a whole new record where the read found none, or
    only a rejection), `add_message` appended to its `messageIds`, `drop` deleted, `events`
    appended to its audit trail. `remember`: the next write of the record starts from this one.
    `note`: only a note for the audit trail, lost with a warning if Firestore refuses it."""

    fields: IntentRecord
    events: tuple[Event, ...] = ()
    add_message: str | None = None
    drop: tuple[Literal["lease", "publishing"], ...] = ()
    remember: bool = False
    note: bool = False


@dataclass(frozen=True)
class Decided(Generic[T]):
    """A decision's answer, and the write that makes it true (None: nothing to write)."""

    answer: T
    write: Write | None = None


@dataclass(frozen=True)
class Terms:
    """What the decisions need of the settings: who decides, and for how long leases hold."""

    owner: str
    max_attempts: int
    lease: timedelta
    publishing: timedelta
    record_ttl: timedelta

    @classmethod
    def of(cls, s: Settings) -> Terms:
        # The publishing hold outlasts a publish and the write marking it, so that a redelivery
        # elsewhere waits (429) instead of publishing the result a second time.
        hold = max(s.lease_seconds, s.publish_timeout_seconds + s.firestore_timeout_seconds)
        return cls(
            owner=s.instance_id,
            max_attempts=s.max_attempts,
            lease=timedelta(seconds=s.lease_seconds),
            publishing=timedelta(seconds=hold),
            record_ttl=timedelta(days=s.record_ttl_days),
        )


# -- decisions on arrival -------------------------------------------------------------------------


def existing(
    record: IntentRecord | None, fields: RequestFields, now: datetime, terms: Terms
) -> Claim | None:
    """What an existing record means for a new valid message, or None to go ahead. A rejected
    record never holds its id; a record of a different request makes the id `reused`."""
    if record is None or record.get("status") == "rejected":
        return None
    attempts = record.get("attempts", 0)
    if record.get("fingerprint") not in (None, fields.get("fingerprint")):
        return Claim("reused", attempts, record)
    if record.get("status") in TERMINAL:
        if not record.get("resultPublished") and held_by_other(
            record.get("publishing"), terms.owner, now
        ):
            return Claim("busy", attempts, record)  # another instance publishes its result
        return Claim("ended", attempts, record)
    if held_by_other(record.get("lease"), terms.owner, now):
        return Claim("busy", attempts, record)
    return None


def noted(record: IntentRecord | None, message_id: str, claim: Claim) -> Decided[Claim]:
    """Add the message to a record it cannot change: an audit event for every duplicate
    delivery and for each message reusing the id (whose rejection is published once); a busy
    record is left alone, its message comes back."""
    known = message_id in (record or {}).get("messageIds", [])
    if claim.kind == "ended" or (claim.kind == "reused" and not known):
        kind = "duplicate" if claim.kind == "ended" else "id reused"
        event = Event(type=kind, messageId=message_id)
        return Decided(claim, Write(IntentRecord(), (event,), add_message=message_id, note=True))
    return Decided(claim)


def claim(
    intent_id: str,
    record: IntentRecord | None,
    fields: RequestFields,
    message_id: str,
    now: datetime,
    terms: Terms,
) -> Decided[Claim]:
    """Take the intent for one attempt, or say why not."""
    decided = existing(record, fields, now, terms)
    if decided is not None:
        return noted(record, message_id, decided)
    data = record or IntentRecord()
    attempts = int(data.get("attempts", 0)) + 1 if record is not None else 1
    if attempts > terms.max_attempts:
        return Decided(Claim("exhausted", attempts - 1, data))
    previous = _owner(data.get("lease"))
    taken_over = previous not in (None, terms.owner)
    event = Event(type="taken over" if taken_over else "claimed", messageId=message_id)
    event["attempt"] = attempts
    if taken_over:
        event["previousOwner"] = previous
    running = IntentRecord(status="running", attempts=attempts, lease=_lease(now, terms))
    running["startedAt"] = now
    if _holds_id(record):
        write = Write(running, (event,), add_message=message_id, remember=True)
    else:
        fresh = _fresh(intent_id, fields, message_id, now, terms) | running
        write = Write(fresh, (_received(message_id), event), remember=True)
    return Decided(Claim("run", attempts, data), write)


def close(
    intent_id: str,
    record: IntentRecord | None,
    fields: RequestFields,
    result: ResultMessage,
    message_id: str,
    now: datetime,
    terms: Terms,
) -> Decided[Claim]:
    """End an intent on arrival with `result` (expired, dead-lettered): a new record, or an
    unfinished one no live lease protects. The claim's record holds the result to publish: an
    expiry after attempts that may have traded is a failure, not `expired`."""
    decided = existing(record, fields, now, terms)
    if decided is not None:
        return noted(record, message_id, decided)
    attempts = int((record or {}).get("attempts", 0))
    ended = after_attempts(result, attempts)
    terminal = _ending(ended, now, terms)
    terminal["resultPublished"] = False
    event = Event(type=ended["status"], messageId=message_id, error=ended["error"])
    if _holds_id(record):
        write = Write(terminal, (event,), add_message=message_id, drop=("lease",))
    else:
        write = Write(
            _fresh(intent_id, fields, message_id, now, terms) | terminal,
            (_received(message_id), event),
        )
    return Decided(Claim("run", attempts, IntentRecord(resultMessage=ended)), write)


def reject(
    intent_id: str,
    record: IntentRecord | None,
    fields: RequestFields,
    result: ResultMessage,
    message_id: str,
    now: datetime,
    terms: Terms,
) -> Write | None:
    """The record of a rejection whose result is already published. A rejection never takes an
    id: its record is replaced by the next valid message with the id, and an id in use keeps its
    record (the rejection is one more event there, once per message)."""
    event = Event(type="rejected", messageId=message_id, error=result["error"])
    if record is None:
        rejected = IntentRecord(status="rejected", attempts=0, finishedAt=now)
        rejected |= IntentRecord(error=result["error"], result=result["result"])
        rejected |= IntentRecord(resultMessage=result, resultPublished=True)
        fresh = _fresh(intent_id, fields, message_id, now, terms) | rejected
        return Write(fresh, (_received(message_id), event))
    if message_id not in record.get("messageIds", []):
        return Write(IntentRecord(), (event,), add_message=message_id)
    return None


def record_run(
    intent_id: str,
    record: IntentRecord | None,
    fields: RequestFields,
    result: ResultMessage,
    message_id: str,
    now: datetime,
    terms: Terms,
) -> Decided[Claim] | None:
    """The record of a run without a claim (an intent without side effects): created at its end
    with the events of its arrival, claim and end, in one batch whose precondition (the id is
    new, or held only a rejection) is the claim. `run`: publish the result; an existing record
    decides as it does for claim(); None when earlier attempts left the intent unfinished, which
    only claim() continues (it counts attempts)."""
    decided = existing(record, fields, now, terms)
    if decided is not None:
        return noted(record, message_id, decided)
    if _holds_id(record):
        return None
    ended = IntentRecord(attempts=1, startedAt=now) | _ending(result, now, terms)
    events = (
        _received(message_id),
        Event(type="claimed", messageId=message_id, attempt=1),
        Event(type="finished", status=result["status"], error=result["error"], attempt=1),
    )
    write = Write(_fresh(intent_id, fields, message_id, now, terms) | ended, events, remember=True)
    return Decided(Claim("run", 1, IntentRecord(resultMessage=result)), write)


# -- decisions of the attempt that runs ---------------------------------------------------------


def finish(
    record: IntentRecord | None, result: ResultMessage, now: datetime, terms: Terms
) -> Decided[Claim]:
    """Record the terminal status: `run` (publish it); `lost` while another instance runs the
    intent (it took it over) or publishes its result (it ended it meanwhile: a takeover that
    finished first, an expiry or a dead letter); `ended` when another ended it and nobody
    publishes its result now. Another's record is never overwritten."""
    data = record or IntentRecord()
    attempts = data.get("attempts", 0)
    if held_by_other(data.get("lease"), terms.owner, now) or (
        not data.get("resultPublished") and held_by_other(data.get("publishing"), terms.owner, now)
    ):
        return Decided(Claim("lost", attempts, data))
    if data.get("status") in TERMINAL and data.get("resultMessage"):
        return Decided(Claim("ended", attempts, data))
    update = _ending(result, now, terms)
    update["resultPublished"] = False
    event = Event(type="finished", status=result["status"], error=result["error"])
    event["attempt"] = result["attempts"]
    write = Write(update, (event,), drop=("lease",))
    return Decided(Claim("run", result["attempts"], IntentRecord(resultMessage=result)), write)


def release(
    record: IntentRecord | None,
    error: dict[str, Any],
    attempts: int,
    count: bool,
    terms: Terms,
) -> Decided[Released]:
    """Give the intent back for a redelivery; `count=False` does not use up the attempt.
    `released`; or, with nothing written, `ended` (it ended meanwhile) or `taken over` (another
    instance took it over and runs it): that is the record to keep."""
    data = record or IntentRecord()
    if data.get("status") in TERMINAL:
        return Decided("ended")
    if _owner(data.get("lease")) not in (None, terms.owner):
        return Decided("taken over")
    given_back = IntentRecord(status="received")
    if count:
        given_back["lastError"] = error
        event = Event(type="attempt failed", attempt=attempts, error=error)
    else:
        given_back["attempts"] = attempts - 1
        event = Event(type="attempt returned", attempt=attempts, reason=error["message"])
    return Decided("released", Write(given_back, (event,), drop=("lease",)))


def renew(record: IntentRecord | None, now: datetime, terms: Terms) -> Decided[bool]:
    """Extend this attempt's lease: True with the extension to write, False once the intent
    ended or another owner has it."""
    data = record or IntentRecord()
    if data.get("status") != "running" or _owner(data.get("lease")) != terms.owner:
        return Decided(False)
    extended = IntentRecord(status="running", lease=_lease(now, terms))
    return Decided(True, Write(extended, remember=True))


def published(result_message_id: str) -> Write:
    """The result went out: a redelivery does not publish it again, and nobody holds it."""
    event = Event(type="result published", resultMessageId=result_message_id)
    done = IntentRecord(resultPublished=True, resultMessageId=result_message_id)
    return Write(done, (event,), drop=("publishing",))


def after_attempts(result: ResultMessage, attempts: int) -> ResultMessage:
    """An arrival-time result for an intent earlier attempts ran: one that may have partly run
    (its orders wait in openOrders) did not "expire" (never executed), it failed, and says so."""
    if not attempts or result["status"] != "expired":
        return {**result, "attempts": attempts}
    message = (
        f"{(result['error'] or {}).get('message')} after {attempts} attempt(s); it may have "
        "partly run: run trade-reconciliation"
    )
    return {
        **result,
        "status": "failed",
        "attempts": attempts,
        "error": {"code": "expired-after-attempts", "message": message, "retryable": False},
    }


# -- parts ----------------------------------------------------------------------------------------


def _holds_id(record: IntentRecord | None) -> bool:
    """A record that keeps its id: any but a rejection (which the next message replaces)."""
    return record is not None and record.get("status") != "rejected"


def _fresh(
    intent_id: str, fields: RequestFields, message_id: str, now: datetime, terms: Terms
) -> IntentRecord:
    return IntentRecord(
        id=intent_id,
        intent=fields["intent"],
        params=fields["params"],
        tradingMode=fields["tradingMode"],
        requestedBy=fields["requestedBy"],
        fingerprint=fields["fingerprint"],
        publishedAtMs=fields["publishedAtMs"],
        messageIds=[message_id],
        receivedAt=now,
        resultPublished=False,
        expireAt=now + terms.record_ttl,
    )


def _ending(result: ResultMessage, now: datetime, terms: Terms) -> IntentRecord:
    """The terminal fields of `result`, held by this owner for publishing."""
    ending = IntentRecord(status=result["status"], finishedAt=now, error=result["error"])
    ending |= IntentRecord(result=result["result"], resultMessage=result)
    ending["publishing"] = _hold(now, terms.publishing, terms)
    return ending


def _owner(lease: Lease | None) -> str | None:
    return lease.get("owner") if lease else None


def _lease(now: datetime, terms: Terms) -> Lease:
    return _hold(now, terms.lease, terms)


def _hold(now: datetime, length: timedelta, terms: Terms) -> Lease:
    return Lease(owner=terms.owner, expiresAt=now + length)


def _received(message_id: str) -> Event:
    return Event(type="received", messageId=message_id)
