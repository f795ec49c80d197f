"""The Firestore layer (worker/database/client.py) against the emulator: errors mapped to what
they mean for a delivery, and one deadline for a transaction however often it is tried."""

from __future__ import annotations

import dataclasses
import time

import pytest
from google.api_core import exceptions

from deploy.processes import free_port
from tests.support import unique
from worker.database import Database
from worker.exceptions import StoreRefused, StoreUnavailable
from worker.settings import Settings

TOO_LARGE = "x" * (1024 * 1024 + 1)  # Firestore documents hold at most 1 MiB


@pytest.fixture
def database(stack, db):
    def make(**settings) -> Database:
        base = Settings(project=stack.options.project, firestore_timeout_seconds=3)
        return Database(dataclasses.replace(base, **settings), db)

    return make


def test_a_write_firestore_refuses_is_refused_not_unavailable(database, db):
    store = database()
    ref = db.collection("dbtests").document(unique("big"))
    with pytest.raises(StoreRefused, match="refused"):
        store.do(ref.set, {"data": TOO_LARGE})

    def write(tx):
        tx.set(ref, {"data": TOO_LARGE})

    with pytest.raises(StoreRefused):
        store.transact(write)
    assert not ref.get().exists


def test_a_transaction_reads_and_writes_once_it_commits(database, db):
    ref = db.collection("dbtests").document(unique("tx"))
    ref.set({"n": 1})

    def bump(tx):
        n = next(iter(tx.get_all([ref]))).to_dict()["n"]
        tx.set(ref, {"n": n + 1})
        return n + 1

    assert database().transact(bump) == 2
    assert ref.get().to_dict() == {"n": 2}


def test_a_contended_transaction_keeps_to_one_deadline_across_its_tries(database, db):
    store, tries = database(firestore_timeout_seconds=1.0), []

    def contended(tx):
        tries.append(time.monotonic())
        time.sleep(0.4)
        raise exceptions.Aborted("contention")  # what a commit that lost a race raises

    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.transact(contended)
    # Tried again while time was left, never after the deadline had passed: a fresh deadline
    # per try would have let it run on.
    assert 2 <= len(tries) <= 3
    assert all(at - started < 1.0 for at in tries)


def test_a_transaction_whose_firestore_does_not_answer_is_unavailable(stack, monkeypatch):
    """Begin fails, so there is nothing to roll back: the outage is what the caller hears (the
    library's 'no transaction ID' ValueError was), a 503 and a redelivery."""
    from google.cloud import firestore

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    closed = firestore.Client(project=stack.options.project)
    store = Database(Settings(project=stack.options.project, firestore_timeout_seconds=1), closed)
    ref = closed.collection("dbtests").document(unique("down"))
    with pytest.raises(StoreUnavailable, match="transaction"):
        store.transact(lambda tx: tx.set(ref, {"n": 1}))


def test_a_transaction_found_expired_is_begun_again(database, db):
    ref, tries = db.collection("dbtests").document(unique("expired")), []

    def work(tx):
        tries.append(1)
        if len(tries) == 1:  # what a retried commit of an expired transaction gets
            raise exceptions.InvalidArgument(
                "The referenced transaction has expired or is no longer valid."
            )
        tx.set(ref, {"n": len(tries)})
        return len(tries)

    assert database().transact(work) == 2
    assert ref.get().to_dict() == {"n": 2}
