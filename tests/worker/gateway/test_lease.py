"""The gateway lease against the Firestore emulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import unique
from worker.database import Database
from worker.exceptions import GatewayBusy
from worker.gateway.lease import GatewayLease
from worker.settings import Settings


def lease(db, mode: str, owner: str, ttl: int = 60) -> GatewayLease:
    return GatewayLease(Database(Settings(firestore_timeout_seconds=3), db), mode, owner, ttl)


def test_one_owner_at_a_time_then_release(db):
    mode = unique("mode")
    first, second = lease(db, mode, "a"), lease(db, mode, "b")
    first.acquire()
    try:
        with pytest.raises(GatewayBusy, match="held by a"):
            second.acquire()
        first.acquire()  # the owner may take it again
    finally:
        first.release()
    assert not db.collection("locks").document(f"gateway-{mode}").get().exists
    second.acquire()
    second.release()


def test_expired_lease_is_taken_over(db):
    mode = unique("mode")
    db.collection("locks").document(f"gateway-{mode}").set(
        {"owner": "crashed", "expiresAt": datetime.now(UTC) - timedelta(seconds=1)}
    )
    taker = lease(db, mode, "b")
    taker.acquire()
    try:
        assert db.collection("locks").document(f"gateway-{mode}").get().to_dict()["owner"] == "b"
    finally:
        taker.release()


def test_lease_is_renewed_while_held(db):
    mode = unique("mode")
    held = lease(db, mode, "a", ttl=12)  # renewed every 4 s
    held.acquire()
    try:
        ref = db.collection("locks").document(f"gateway-{mode}")
        first = ref.get().to_dict()["expiresAt"]
        time.sleep(5)
        assert ref.get().to_dict()["expiresAt"] > first
    finally:
        held.release()


def test_release_does_not_delete_someone_elses_lease(db):
    mode = unique("mode")
    mine = lease(db, mode, "a", ttl=1)
    mine.acquire()
    mine._renewer.stop()  # renewals stopped: the lease expires and another owner takes it
    db.collection("locks").document(f"gateway-{mode}").set(
        {"owner": "b", "expiresAt": datetime.now(UTC) + timedelta(minutes=1)}
    )
    mine.release()
    assert db.collection("locks").document(f"gateway-{mode}").get().to_dict()["owner"] == "b"


def test_a_lease_taken_by_another_owner_is_lost_not_taken_back(db):
    mode = unique("mode")
    held = lease(db, mode, "a", ttl=3)  # renewed every second
    held.acquire()
    ref = db.collection("locks").document(f"gateway-{mode}")
    try:
        # Renewals failed for long enough that another instance took the expired lease.
        ref.set({"owner": "b", "expiresAt": datetime.now(UTC) + timedelta(minutes=5)})
        deadline = time.monotonic() + 5
        while not held.lost and time.monotonic() < deadline:
            time.sleep(0.1)
        assert held.lost
        time.sleep(1.5)
        assert ref.get().to_dict()["owner"] == "b"
    finally:
        held.release()
    assert ref.get().to_dict()["owner"] == "b"


def written_after_the_next_read(held: GatewayLease, meanwhile) -> None:
    """The lease's next read returns the lease as it was, then `meanwhile()` changes it: a write
    between the renewal's read and its write."""
    get = held.db.get

    def racing(ref):
        snap = get(ref)
        if meanwhile:
            meanwhile.pop()()
        return snap

    held.db.get = racing


def test_a_renewal_refused_because_another_owner_took_the_lease_is_no_renewal(db):
    mode = unique("mode")
    held = lease(db, mode, "a")  # renewed every 20 s: only the renewal the test calls runs
    held.acquire()
    ref = db.collection("locks").document(f"gateway-{mode}")
    try:

        def taken_over() -> None:  # renewals failed until the lease expired; b took it
            ref.set({"owner": "b", "expiresAt": datetime.now(UTC) + timedelta(minutes=5)})

        written_after_the_next_read(held, [taken_over])
        assert held.renew() is False
        assert held.lost
        assert ref.get().to_dict()["owner"] == "b"
    finally:
        held.release()


def test_a_renewal_whose_lease_changed_harmlessly_is_written_again(db):
    mode = unique("mode")
    held = lease(db, mode, "a")
    held.acquire()
    ref = db.collection("locks").document(f"gateway-{mode}")
    try:
        before = ref.get().to_dict()["expiresAt"]
        written_after_the_next_read(held, [lambda: ref.update({"note": "touched"})])
        assert held.renew() is True
        saved = ref.get().to_dict()
        assert (saved["owner"], saved["note"]) == ("a", "touched")
        assert saved["expiresAt"] > before
        assert not held.lost
    finally:
        held.release()
