"""The intent records' decisions as pure functions: no Firestore, no emulator.

Each decision gets a record (or None), the message, the time and the terms, and answers with a
claim and a write as data. `apply` below plays Firestore's part (a create or an update, an
array union, deleted fields), so that sequences of decisions by several owners can be checked
for the invariants the records promise. The same decisions against the emulator:
test_store.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker import store_decisions as decide
from worker.record_types import TERMINAL
from worker.settings import Settings
from worker.store_decisions import Terms, Write

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
TERMS_A = Terms("a", 3, LEASE, timedelta(seconds=60), timedelta(days=30))
TERMS_B = Terms("b", 3, LEASE, timedelta(seconds=60), timedelta(days=30))
FIELDS: Any = {
    "intent": "ping",
    "params": {},
    "tradingMode": "paper",
    "requestedBy": "test",
    "fingerprint": "f1",
    "publishedAtMs": None,
}


def fields(fingerprint: str = "f1") -> Any:
    return {**FIELDS, "fingerprint": fingerprint}


def result(status: str = "succeeded", attempts: int = 1) -> Any:
    err = None if status == "succeeded" else {"code": status, "message": status, "retryable": False}
    return {"id": "i", "status": status, "result": {}, "error": err, "attempts": attempts}


def lease(owner: str, seconds: float) -> dict[str, Any]:
    return {"owner": owner, "expiresAt": NOW + timedelta(seconds=seconds)}


def running(owner: str = "a", seconds: float = 30, attempts: int = 1, **more: Any) -> Any:
    record = {**FIELDS, "id": "i", "status": "running", "attempts": attempts}
    return record | {"lease": lease(owner, seconds), "messageIds": ["m1"]} | more


def ended(status: str = "succeeded", **more: Any) -> Any:
    record = {**FIELDS, "id": "i", "status": status, "attempts": 1, "messageIds": ["m1"]}
    return record | {"resultMessage": result(status), "resultPublished": True} | more


def apply(record: Any, write: Write | None) -> Any:
    """The record after Firestore took the write (as worker.intent_records writes it)."""
    if write is None:
        return record
    if record is None or (record.get("status") == "rejected" and "id" in write.fields):
        after = dict(write.fields)  # created, or a rejection replaced whole
    else:
        after = {**record, **write.fields}
    if write.add_message is not None and write.add_message not in after.get("messageIds", []):
        after["messageIds"] = [*after.get("messageIds", []), write.add_message]
    for name in write.drop:
        after.pop(name, None)
    return after


def types(write: Write | None) -> list[str]:
    return [event["type"] for event in write.events] if write else []


def is_note(write: Write | None) -> bool:
    """A write that only adds the message and an audit event: the record's fields stay."""
    return write is None or (not write.fields and not write.drop)


# -- examples -----------------------------------------------------------------------------------


def test_a_new_id_is_claimed_with_a_fresh_record_its_lease_and_events():
    decided = decide.claim("i", None, FIELDS, "m1", NOW, TERMS_A)
    assert (decided.answer.kind, decided.answer.attempts) == ("run", 1)
    write = decided.write
    assert write is not None and write.remember and write.add_message is None
    assert write.fields["id"] == "i" and write.fields["fingerprint"] == "f1"
    assert write.fields["messageIds"] == ["m1"] and write.fields["status"] == "running"
    assert write.fields["lease"] == {"owner": "a", "expiresAt": NOW + LEASE}
    assert write.fields["startedAt"] == write.fields["receivedAt"] == NOW
    assert write.fields["expireAt"] == NOW + timedelta(days=30)
    assert types(write) == ["received", "claimed"]


def test_a_live_lease_of_another_owner_is_busy_then_taken_over_when_it_expires():
    busy = decide.claim("i", running("a", 30), FIELDS, "m2", NOW, TERMS_B)
    assert busy.answer.kind == "busy" and busy.write is None
    taken = decide.claim("i", running("a", -1), FIELDS, "m2", NOW, TERMS_B)
    assert (taken.answer.kind, taken.answer.attempts) == ("run", 2)
    write = taken.write
    assert write is not None and "id" not in write.fields and write.add_message == "m2"
    assert write.events == (
        {"type": "taken over", "messageId": "m2", "attempt": 2, "previousOwner": "a"},
    )
    assert write.fields["lease"]["owner"] == "b"


def test_the_owner_of_a_live_lease_claims_again_without_a_takeover():
    decided = decide.claim("i", running("a", 30), FIELDS, "m2", NOW, TERMS_A)
    assert (decided.answer.kind, types(decided.write)) == ("run", ["claimed"])


def test_attempts_run_out_without_a_write():
    decided = decide.claim("i", running("a", -1, attempts=3), FIELDS, "m4", NOW, TERMS_A)
    assert (decided.answer.kind, decided.answer.attempts, decided.write) == ("exhausted", 3, None)


def test_another_request_under_the_id_is_reused_and_noted_once_per_message():
    reused = decide.claim("i", running("a", 30), fields("f2"), "m2", NOW, TERMS_B)
    assert reused.answer.kind == "reused" and types(reused.write) == ["id reused"]
    assert reused.write is not None and reused.write.note and is_note(reused.write)
    again = decide.claim(
        "i", running("a", 30, messageIds=["m1", "m2"]), fields("f2"), "m2", NOW, TERMS_B
    )
    assert again.answer.kind == "reused" and again.write is None


def test_a_record_without_a_fingerprint_is_not_taken_for_another_request():
    record = running("a", -1)
    del record["fingerprint"]
    assert decide.claim("i", record, fields("f2"), "m2", NOW, TERMS_B).answer.kind == "run"


def test_a_rejected_record_gives_its_id_to_the_next_message():
    rejected = ended("rejected", attempts=0, fingerprint="other")
    decided = decide.claim("i", rejected, FIELDS, "m2", NOW, TERMS_A)
    assert (decided.answer.kind, decided.answer.attempts) == ("run", 1)
    assert decided.write is not None and decided.write.fields["id"] == "i"
    after = apply(rejected, decided.write)
    assert after["messageIds"] == ["m2"] and after["fingerprint"] == "f1"
    assert "resultMessage" not in after and types(decided.write) == ["received", "claimed"]


def test_a_duplicate_of_an_ended_intent_is_an_event_only():
    decided = decide.claim("i", ended(), FIELDS, "m1", NOW, TERMS_B)
    assert decided.answer.kind == "ended" and types(decided.write) == ["duplicate"]
    assert decided.write is not None and decided.write.note and is_note(decided.write)


def test_an_ended_intent_whose_result_another_publishes_is_busy():
    publishing = ended(resultPublished=False, publishing=lease("a", 30))
    assert decide.claim("i", publishing, FIELDS, "m2", NOW, TERMS_B).answer.kind == "busy"
    assert decide.claim("i", publishing, FIELDS, "m2", NOW, TERMS_A).answer.kind == "ended"
    lapsed = ended(resultPublished=False, publishing=lease("a", -1))
    assert decide.claim("i", lapsed, FIELDS, "m2", NOW, TERMS_B).answer.kind == "ended"


def test_closing_a_new_id_creates_its_terminal_record_held_for_publishing():
    expired = result("expired", 0)
    decided = decide.close("i", None, FIELDS, expired, "m1", NOW, TERMS_A)
    assert decided.answer.kind == "run" and decided.answer.record["resultMessage"] == expired
    write = decided.write
    assert write is not None and write.fields["status"] == "expired"
    assert write.fields["publishing"] == {"owner": "a", "expiresAt": NOW + timedelta(seconds=60)}
    assert write.fields["resultPublished"] is False and types(write) == ["received", "expired"]


def test_closing_after_attempts_fails_instead_of_expiring_and_drops_the_lease():
    decided = decide.close(
        "i", running("a", -1, attempts=2), FIELDS, result("expired", 0), "m3", NOW, TERMS_B
    )
    ended_as = decided.answer.record["resultMessage"]
    assert (ended_as["status"], ended_as["attempts"]) == ("failed", 2)
    assert ended_as["error"]["code"] == "expired-after-attempts"
    assert "2 attempt(s)" in ended_as["error"]["message"] and not ended_as["error"]["retryable"]
    write = decided.write
    assert write is not None and write.drop == ("lease",) and write.add_message == "m3"
    assert types(write) == ["failed"]


def test_a_dead_letter_after_attempts_stays_failed_with_its_own_error():
    dead = result("failed", 0)
    decided = decide.close("i", running("a", -1, attempts=2), FIELDS, dead, "m3", NOW, TERMS_B)
    assert decided.answer.record["resultMessage"] == {**dead, "attempts": 2}


def test_a_rejection_of_a_new_id_is_recorded_published_and_of_an_id_in_use_is_an_event():
    rejected = result("rejected", 0)
    fresh = decide.reject("i", None, FIELDS, rejected, "m1", NOW, TERMS_A)
    assert fresh is not None and fresh.fields["status"] == "rejected"
    assert fresh.fields["resultPublished"] is True and fresh.fields["attempts"] == 0
    assert types(fresh) == ["received", "rejected"]
    noted = decide.reject("i", running(), FIELDS, rejected, "m9", NOW, TERMS_A)
    assert noted is not None and is_note(noted) and types(noted) == ["rejected"]
    assert decide.reject("i", running(), FIELDS, rejected, "m1", NOW, TERMS_A) is None


def test_a_run_without_a_claim_is_recorded_at_its_end():
    done = result("succeeded", 1)
    decided = decide.record_run("i", None, FIELDS, done, "m1", NOW, TERMS_A)
    assert decided is not None and (decided.answer.kind, decided.answer.attempts) == ("run", 1)
    write = decided.write
    assert write is not None and write.remember and write.fields["status"] == "succeeded"
    assert write.fields["resultMessage"] == done and write.fields["publishing"]["owner"] == "a"
    assert types(write) == ["received", "claimed", "finished"]
    assert decide.record_run("i", running("a", -1), FIELDS, done, "m2", NOW, TERMS_A) is None
    duplicate = decide.record_run("i", ended(), FIELDS, done, "m2", NOW, TERMS_A)
    assert duplicate is not None and duplicate.answer.kind == "ended"


def test_finish_records_the_ending_held_for_publishing():
    done = result("succeeded", 1)
    decided = decide.finish(running("a", 30), done, NOW, TERMS_A)
    assert (decided.answer.kind, decided.answer.record) == ("run", {"resultMessage": done})
    write = decided.write
    assert write is not None and write.drop == ("lease",) and not write.remember
    assert write.fields["status"] == "succeeded" and write.fields["resultPublished"] is False
    assert write.fields["publishing"]["owner"] == "a" and types(write) == ["finished"]
    assert write.events[0]["attempt"] == 1


def test_finish_defers_to_another_owner_and_never_overwrites_an_ending():
    done = result("failed", 1)
    assert decide.finish(running("b", 30), done, NOW, TERMS_A).answer.kind == "lost"
    held = ended("expired", resultPublished=False, publishing=lease("b", 30))
    assert decide.finish(held, done, NOW, TERMS_A).answer.kind == "lost"
    lapsed = ended("expired", resultPublished=False, publishing=lease("b", -1))
    assert (
        decide.finish(lapsed, done, NOW, TERMS_A).answer.kind,
        decide.finish(lapsed, done, NOW, TERMS_A).write,
    ) == ("ended", None)


def test_release_counts_or_returns_the_attempt_unless_the_intent_moved_on():
    err = {"code": "ib-disconnected", "message": "lost", "retryable": True}
    counted = decide.release(running("a", 30, attempts=2), err, 2, True, TERMS_A)
    assert counted.answer == "released" and counted.write is not None
    assert counted.write.fields == {"status": "received", "lastError": err}
    assert counted.write.drop == ("lease",) and types(counted.write) == ["attempt failed"]
    returned = decide.release(running("a", 30, attempts=2), err, 2, False, TERMS_A)
    assert returned.write is not None and returned.write.fields["attempts"] == 1
    assert returned.write.events == ({"type": "attempt returned", "attempt": 2, "reason": "lost"},)
    assert decide.release(ended(), err, 2, True, TERMS_A) == decide.Decided("ended")
    # Another owner's lease, even lapsed: it took the intent over.
    assert decide.release(running("b", -1), err, 2, True, TERMS_A) == decide.Decided("taken over")


def test_renewal_only_by_the_owner_of_a_running_intent():
    renewed = decide.renew(running("a", 5), NOW, TERMS_A)
    assert renewed.answer and renewed.write is not None and renewed.write.remember
    assert renewed.write.fields == {"status": "running", "lease": lease("a", 60)}
    assert decide.renew(running("b", 5), NOW, TERMS_A) == decide.Decided(False)
    assert decide.renew(ended(), NOW, TERMS_A) == decide.Decided(False)
    assert decide.renew(None, NOW, TERMS_A) == decide.Decided(False)


def test_a_published_result_frees_its_hold():
    write = decide.published("r1")
    assert write.fields == {"resultPublished": True, "resultMessageId": "r1"}
    assert write.drop == ("publishing",) and types(write) == ["result published"]


@pytest.mark.parametrize(
    ("lease_s", "publish_s", "firestore_s", "hold"), [(60, 10, 10, 60), (5, 10, 3, 13)]
)
def test_the_publishing_hold_outlasts_a_publish_and_its_mark(lease_s, publish_s, firestore_s, hold):
    s = Settings(
        trading_mode="paper",
        lease_seconds=lease_s,
        publish_timeout_seconds=publish_s,
        firestore_timeout_seconds=firestore_s,
        instance_id="x",
        max_attempts=4,
    )
    terms = Terms.of(s)
    assert (terms.owner, terms.max_attempts, terms.lease) == ("x", 4, timedelta(seconds=lease_s))
    assert terms.publishing == timedelta(seconds=hold)


# -- properties ---------------------------------------------------------------------------------

owners = st.sampled_from(["a", "b"])
offsets = st.integers(min_value=-120, max_value=120)
message_ids = st.sampled_from(["m1", "m2", "m3"])
fingerprints = st.sampled_from(["f1", "f2"])
leases = st.builds(lease, owners, offsets)


ENDED = [status for status in TERMINAL if status != "rejected"]  # a rejection holds no id
ANY_STATUS = st.sampled_from(["received", "running", *TERMINAL])


@st.composite
def records(draw: Any, statuses: Any = ANY_STATUS) -> Any:
    status = draw(statuses)
    record = {**FIELDS, "id": "i", "status": status, "fingerprint": draw(fingerprints)}
    record["attempts"] = draw(st.integers(min_value=0, max_value=5))
    record["messageIds"] = draw(st.lists(message_ids, min_size=1, max_size=3, unique=True))
    for name in ("lease", "publishing"):
        if draw(st.booleans()):
            record[name] = draw(leases)
    record["resultPublished"] = draw(st.booleans())
    if status in TERMINAL and draw(st.booleans()):
        record["resultMessage"] = result(status)
    return record


terms = st.sampled_from([TERMS_A, TERMS_B])
arrivals = st.sampled_from(["claim", "close", "record_run"])


def arrive(kind: str, record: Any, fingerprint: str, message_id: str, t: Terms) -> Any:
    f = fields(fingerprint)
    if kind == "claim":
        return decide.claim("i", record, f, message_id, NOW, t)
    if kind == "close":
        return decide.close("i", record, f, result("expired", 0), message_id, NOW, t)
    return decide.record_run("i", record, f, result("succeeded"), message_id, NOW, t)


@given(
    records(st.sampled_from(ENDED)),
    arrivals,
    fingerprints,
    message_ids,
    terms,
)
def test_a_terminal_record_never_runs_again(record, kind, fingerprint, message_id, t):
    decided = arrive(kind, record, fingerprint, message_id, t)
    assert decided.answer.kind in ("ended", "busy", "reused")
    assert is_note(decided.write) and apply(record, decided.write)["status"] == record["status"]
    assert decide.renew(record, NOW, t) == decide.Decided(False)
    err = {"code": "x", "message": "x", "retryable": True}
    assert decide.release(record, err, 1, True, t) == decide.Decided("ended")
    if record.get("resultMessage"):
        assert decide.finish(record, result("failed"), NOW, t).write is None


@given(records(st.sampled_from(["received", "running"])), arrivals, message_ids, offsets)
def test_a_live_lease_of_another_owner_is_busy_for_every_arrival(record, kind, message_id, left):
    record["lease"] = lease("a", left)
    decided = arrive(kind, record, record["fingerprint"], message_id, TERMS_B)
    if left > 0:
        assert decided.answer.kind == "busy" and decided.write is None
        assert decide.finish(record, result(), NOW, TERMS_B).answer.kind == "lost"
    else:
        assert decided is None or decided.answer.kind in ("run", "exhausted")


@given(records(), fingerprints, message_ids, terms)
def test_attempts_never_exceed_the_maximum(record, fingerprint, message_id, t):
    decided = decide.claim("i", record, fields(fingerprint), message_id, NOW, t)
    if decided.answer.kind == "run":
        assert decided.answer.attempts <= t.max_attempts
        after = apply(record, decided.write)
        assert after["attempts"] == decided.answer.attempts and after["status"] == "running"
        assert after["lease"]["owner"] == t.owner and message_id in after["messageIds"]
    elif decided.answer.kind == "exhausted":
        assert decided.answer.attempts == record["attempts"] >= t.max_attempts
        assert decided.write is None


@given(records(st.sampled_from(ENDED)), message_ids, terms)
def test_a_duplicate_message_after_the_end_is_ended_and_noted(record, message_id, t):
    record |= {"resultPublished": True, "fingerprint": "f1"}
    record["messageIds"] = sorted({*record["messageIds"], message_id})
    decided = decide.claim("i", record, FIELDS, message_id, NOW, t)
    assert decided.answer.kind == "ended" and types(decided.write) == ["duplicate"]
    assert apply(record, decided.write) == record


@given(records(), message_ids, terms)
def test_a_rejection_never_changes_an_existing_record(record, message_id, t):
    write = decide.reject("i", record, FIELDS, result("rejected", 0), message_id, NOW, t)
    assert is_note(write)
    assert (write is None) == (message_id in record["messageIds"])


operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["claim", "close", "record_run", "reject", "finish", "release", "renew", "published"]
        ),
        st.sampled_from([TERMS_A, TERMS_B]),
        message_ids,
        st.integers(min_value=0, max_value=90),  # seconds the clock moves on first
    ),
    max_size=25,
)


@settings(max_examples=300)
@given(operations)
def test_any_sequence_keeps_one_runner_one_ending_and_the_attempt_limit(ops):
    record: Any = None
    now, ending, runner = NOW, None, None  # runner: the lease on the record
    for op, t, message_id, wait in ops:
        now += timedelta(seconds=wait)
        if op in ("claim", "close", "record_run"):
            call = {"claim": decide.claim, "close": decide.close, "record_run": decide.record_run}
            args = () if op == "claim" else (result("expired" if op == "close" else "failed", 0),)
            decided = call[op]("i", record, FIELDS, *args, message_id, now, t)
        elif op == "reject":
            write = decide.reject("i", record, FIELDS, result("rejected", 0), message_id, now, t)
            decided = decide.Decided(None, write)
        elif op == "finish":
            decided = decide.finish(record, result("succeeded", 1), now, t)
            if decided.write is not None and record is None:
                continue  # an update of a missing record: Firestore refuses it
        elif op == "release":
            err = {"code": "x", "message": "x", "retryable": True}
            decided = decide.release(record, err, (record or {}).get("attempts", 1), True, t)
            if decided.write is not None and record is None:
                continue
        elif op == "renew":
            decided = decide.renew(record, now, t)
        else:
            if record is None:
                continue
            decided = decide.Decided(None, decide.published("r"))
        if op == "claim" and decided.answer.kind == "run":
            # Nobody else's lease was live when this one took the intent.
            assert runner is None or runner["owner"] == t.owner or runner["expiresAt"] <= now
        before = record
        record = apply(record, decided.write if decided is not None else None)
        runner = (record or {}).get("lease")
        if ending is not None and before is not None and before.get("status") == ending[0]:
            # Once ended, always ended, with the same result.
            assert (record["status"], record.get("resultMessage")) == ending
        if record is not None and record["status"] in TERMINAL and record["status"] != "rejected":
            ending = (record["status"], record.get("resultMessage"))
        assert record is None or record.get("attempts", 0) <= TERMS_A.max_attempts
