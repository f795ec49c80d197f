"""The intent records' decisions, against the Firestore emulator, without the worker around them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import events, intent_ref, record, unique
from worker.database import Database
from worker.exceptions import StoreRefused
from worker.settings import Settings
from worker.store import IntentStore


@pytest.fixture
def make_store(stack, db):
    def make(mode: str = "paper", owner: str | None = None, **settings) -> IntentStore:
        base = Settings(
            trading_mode=mode, project=stack.options.project, firestore_timeout_seconds=3
        )
        base = dataclasses.replace(base, **settings)
        if owner:
            base = dataclasses.replace(base, instance_id=owner)
        return IntentStore(base, Database(base, db))

    return make


def fields(fingerprint: str = "f1", published_ms: int | None = None) -> dict:
    return {
        "intent": "ping",
        "params": {},
        "tradingMode": "paper",
        "requestedBy": "test",
        "fingerprint": fingerprint,
        "publishedAtMs": published_ms,
    }


def result(intent_id: str, status: str = "succeeded", attempts: int = 1) -> dict:
    err = None if status == "succeeded" else {"code": status, "message": status, "retryable": False}
    return {
        "id": intent_id,
        "intent": "ping",
        "tradingMode": "paper",
        "status": status,
        "result": {},
        "error": err,
        "attempts": attempts,
        "timings": {},
    }


def test_a_new_id_is_claimed_with_its_lease_and_events(make_store, db):
    store, intent_id = make_store(owner="a"), unique("s")
    claim = store.claim(intent_id, fields(), "m1")
    assert (claim.kind, claim.attempts) == ("run", 1)
    saved = record(db, intent_id)
    assert saved["id"] == intent_id and saved["fingerprint"] == "f1"
    assert saved["status"] == "running" and saved["lease"]["owner"] == "a"
    assert saved["lease"]["expiresAt"] <= datetime.now(UTC) + timedelta(seconds=61)
    assert events(db, intent_id) == ["received", "claimed"]


def test_a_live_lease_of_another_owner_is_busy_then_taken_over_when_it_expires(make_store, db):
    intent_id = unique("s")
    make_store(owner="a", lease_seconds=60).claim(intent_id, fields(), "m1")
    other = make_store(owner="b")
    assert other.claim(intent_id, fields(), "m2").kind == "busy"
    intent_ref(db, intent_id).update({"lease.expiresAt": datetime.now(UTC) - timedelta(seconds=1)})
    claim = other.claim(intent_id, fields(), "m2")
    assert (claim.kind, claim.attempts) == ("run", 2)
    assert events(db, intent_id)[-1] == "taken over"


def test_attempts_run_out(make_store, db):
    store, intent_id = make_store(max_attempts=2), unique("s")
    for attempt in (1, 2):
        assert store.claim(intent_id, fields(), "m1").attempts == attempt
        store.release(intent_id, {"code": "x", "message": "x", "retryable": True}, attempt)
    assert store.claim(intent_id, fields(), "m1").kind == "exhausted"


def test_the_same_id_asking_for_something_else_is_reused_and_noted_once(make_store, db):
    store, intent_id = make_store(), unique("s")
    store.claim(intent_id, fields("f1"), "m1")
    store.finish(intent_id, result(intent_id))
    for _ in range(2):  # the same message delivered twice: one event
        claim = store.claim(intent_id, fields("f2"), "m2")
        assert claim.kind == "reused" and claim.record["messageIds"][0] == "m1"
    assert events(db, intent_id).count("id reused") == 1
    assert store.claim(intent_id, fields("f1"), "m3").kind == "ended"
    assert record(db, intent_id)["status"] == "succeeded"


def test_a_rejection_never_takes_its_id(make_store, db):
    store, intent_id = make_store(), unique("s")
    rejected = result(intent_id, "rejected", attempts=0)
    store.reject(intent_id, fields("typo"), rejected, "m1")
    store.reject(intent_id, fields("typo"), rejected, "m1")  # a redelivery changes nothing
    assert record(db, intent_id)["status"] == "rejected"
    claim = store.claim(intent_id, fields("fixed"), "m2")
    assert (claim.kind, claim.attempts) == ("run", 1)
    saved = record(db, intent_id)
    assert saved["status"] == "running" and saved["fingerprint"] == "fixed"
    assert "resultMessage" not in saved and "error" not in saved
    assert saved["messageIds"] == ["m2"]
    assert events(db, intent_id) == ["received", "rejected", "received", "claimed"]


def test_a_rejection_of_an_id_in_use_is_an_event_on_its_record(make_store, db):
    store, intent_id = make_store(), unique("s")
    store.claim(intent_id, fields(), "m1")
    store.reject(intent_id, fields(), result(intent_id, "rejected", 0), "m2")
    assert record(db, intent_id)["status"] == "running"
    assert events(db, intent_id)[-1] == "rejected"


def test_closing_on_arrival(make_store, db):
    store = make_store(owner="a")
    fresh = unique("s")
    claim = store.close(fresh, fields(), result(fresh, "expired", 0), "m1")
    assert claim.kind == "run" and claim.record["resultMessage"]["status"] == "expired"
    # An intent earlier attempts ran may have traded: it fails instead of "expiring".
    ran = unique("s")
    store.claim(ran, fields(), "m1")
    store.release(ran, {"code": "x", "message": "x", "retryable": True}, 1)
    ended = store.close(ran, fields(), result(ran, "expired", 0), "m1").record["resultMessage"]
    assert (ended["status"], ended["error"]["code"], ended["attempts"]) == (
        "failed",
        "expired-after-attempts",
        1,
    )
    # Running elsewhere under a live lease: not closed.
    busy = unique("s")
    make_store(owner="b").claim(busy, fields(), "m1")
    assert store.close(busy, fields(), result(busy, "failed", 0), "m2").kind == "busy"


def test_finish_defers_to_an_attempt_that_took_the_intent_over(make_store, db):
    intent_id = unique("s")
    first = make_store(owner="a", lease_seconds=6)
    first.claim(intent_id, fields(), "m1")
    intent_ref(db, intent_id).update({"lease.expiresAt": datetime.now(UTC) - timedelta(seconds=1)})
    second = make_store(owner="b")
    second.claim(intent_id, fields(), "m1")
    assert first.renew(intent_id) is False
    assert first.finish(intent_id, result(intent_id)).kind == "lost"
    assert second.finish(intent_id, result(intent_id, attempts=2)).kind == "run"
    # Second publishes its result now (its publishing hold is live): first has lost the intent.
    assert first.finish(intent_id, result(intent_id)).kind == "lost"
    second.mark_published(intent_id, "r1")
    assert first.finish(intent_id, result(intent_id)).kind == "ended"
    saved = record(db, intent_id)
    assert saved["attempts"] == 2 and saved["resultMessage"]["attempts"] == 2


def test_finish_never_overwrites_an_ending_another_instance_publishes(make_store, db):
    intent_id = unique("s")
    first = make_store(owner="a", lease_seconds=6)
    first.claim(intent_id, fields(), "m1")
    intent_ref(db, intent_id).update({"lease.expiresAt": datetime.now(UTC) - timedelta(seconds=1)})
    # Meanwhile another instance ends it on arrival (a dead letter) and holds its publishing.
    closed = make_store(owner="b").close(intent_id, fields(), result(intent_id, "failed", 0), "m2")
    assert closed.kind == "run"
    assert first.finish(intent_id, result(intent_id)).kind == "lost"
    saved = record(db, intent_id)
    assert saved["status"] == "failed" and saved["publishing"]["owner"] == "b"
    assert saved["resultMessage"]["attempts"] == 1 and events(db, intent_id)[-1] == "failed"
    assert first.records.mine(intent_id) is None


def test_finish_after_a_hold_ran_out_publishes_the_recorded_ending(make_store, db):
    intent_id = unique("s")
    first = make_store(owner="a")
    first.claim(intent_id, fields(), "m1")
    intent_ref(db, intent_id).update({"lease.expiresAt": datetime.now(UTC) - timedelta(seconds=1)})
    make_store(owner="b").close(intent_id, fields(), result(intent_id, "failed", 0), "m2")
    past = datetime.now(UTC) - timedelta(seconds=1)
    intent_ref(db, intent_id).update({"publishing.expiresAt": past})  # b died before publishing
    ended = first.finish(intent_id, result(intent_id))
    assert ended.kind == "ended" and ended.record["status"] == "failed"
    assert record(db, intent_id)["status"] == "failed"


def test_only_claims_runs_and_renewals_that_landed_are_guessed_from(make_store, db):
    intent_id = unique("s")
    owner = make_store(owner="a")
    owner.claim(intent_id, fields(), "m1")
    assert owner.records.mine(intent_id).data["status"] == "running"
    owner.finish(intent_id, result(intent_id))
    owner.mark_published(intent_id, "r1")
    # Another instance only notes a duplicate and a rejection: nothing it may write from.
    other = make_store(owner="c")
    assert other.claim(intent_id, fields(), "m2").kind == "ended"
    other.reject(intent_id, fields(), result(intent_id, "rejected", 0), "m3")
    assert other.records.mine(intent_id) is None
    # So a late finish there reads the record and leaves the ending alone.
    assert other.finish(intent_id, result(intent_id, "failed")).kind == "ended"
    assert record(db, intent_id)["status"] == "succeeded"
    # A run recorded without a claim is guessed as what it wrote: terminal.
    ran = unique("s")
    assert other.record_run(ran, fields(), result(ran), "m4").kind == "run"
    assert other.records.mine(ran).data["status"] == "succeeded"
    assert other.finish(ran, result(ran, "failed")).kind == "ended"


def test_a_result_too_large_for_its_record_is_refused_and_changes_nothing(make_store, db):
    store, intent_id = make_store(owner="a"), unique("s")
    store.claim(intent_id, fields(), "m1")
    huge = {**result(intent_id), "result": {"data": "x" * (1024 * 1024 + 1)}}
    with pytest.raises(StoreRefused):
        store.finish(intent_id, huge)
    assert record(db, intent_id)["status"] == "running"
    assert store.finish(intent_id, result(intent_id, "failed")).kind == "run"
    assert record(db, intent_id)["status"] == "failed"


def test_renewal_extends_the_lease_until_the_intent_ends(make_store, db):
    store, intent_id = make_store(owner="a", lease_seconds=6), unique("s")
    store.claim(intent_id, fields(), "m1")
    before = record(db, intent_id)["lease"]["expiresAt"]
    assert store.renew(intent_id) is True
    assert record(db, intent_id)["lease"]["expiresAt"] > before
    store.finish(intent_id, result(intent_id))  # its guess survives the renewal's write
    assert store.renew(intent_id) is False
    assert "lease" not in record(db, intent_id)


def written_after_the_next_read(store: IntentStore, meanwhile) -> None:
    """The next read of the store returns the record as it was, then `meanwhile()` changes it:
    a write between this attempt's read and its write."""
    read = store.records.read

    def racing(intent_id: str):
        doc = read(intent_id)
        if meanwhile:
            meanwhile.pop()()
        return doc

    store.records.read = racing


def test_a_renewal_refused_because_the_intent_was_taken_over_is_no_renewal(make_store, db):
    intent_id = unique("s")
    first = make_store(owner="a")
    first.claim(intent_id, fields(), "m1")
    second = make_store(owner="b")

    def taken_over() -> None:  # a's lease ran out unrenewed; b takes the intent over
        past = datetime.now(UTC) - timedelta(seconds=1)
        intent_ref(db, intent_id).update({"lease.expiresAt": past})
        assert second.claim(intent_id, fields(), "m2").kind == "run"

    written_after_the_next_read(first, [taken_over])
    assert first.renew(intent_id) is False
    assert record(db, intent_id)["lease"]["owner"] == "b"
    assert first.records.mine(intent_id) is None  # the refused write is nothing to guess from


def test_a_renewal_whose_record_changed_harmlessly_is_written_again(make_store, db):
    store, intent_id = make_store(owner="a", lease_seconds=6), unique("s")
    store.claim(intent_id, fields(), "m1")
    before = record(db, intent_id)["lease"]["expiresAt"]

    def noted() -> None:  # a rejected message with the same id, recorded meanwhile
        make_store(owner="c").reject(intent_id, fields(), result(intent_id, "rejected", 0), "m9")

    written_after_the_next_read(store, [noted])
    assert store.renew(intent_id) is True
    saved = record(db, intent_id)
    assert saved["lease"]["owner"] == "a" and saved["lease"]["expiresAt"] > before
    assert "m9" in saved["messageIds"]


def test_an_intent_is_found_by_what_it_asked_and_when_it_was_published(make_store):
    store, intent_id = make_store(), unique("s")
    store.claim(intent_id, fields("fp-" + intent_id, published_ms=1_700_000_000_123), "m1")
    assert store.find("fp-" + intent_id, 1_700_000_000_123) == intent_id
    assert store.find("fp-" + intent_id, 1_700_000_000_124) is None


def test_paper_and_live_keep_their_own_record_of_an_id(make_store, db):
    intent_id = unique("s")
    paper, live = make_store("paper"), make_store("live")
    assert paper.claim(intent_id, fields(), "m1").kind == "run"
    assert live.claim(intent_id, {**fields(), "tradingMode": "live"}, "m2").kind == "run"
    assert record(db, intent_id, "paper")["messageIds"] == ["m1"]
    assert record(db, intent_id, "live")["messageIds"] == ["m2"]
