"""The lease on a running intent: renewed while it runs, so a second instance gets 429 however
long it takes; lost with its owner, so a crashed owner's intent is taken over within about a
lease; and once lost, no order goes out from the instance that lost it.

Two worker processes (gunicorn, as the stack runs them) of one trading mode in a project of
their own, LEASE_SECONDS=6; the test delivers to each directly, as Pub/Sub would redeliver.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.stack import LocalStack
from tests.support import (
    Proxy,
    Results,
    envelope,
    kill_group,
    post,
    side_worker,
    unique,
    wait_until,
)
from tests.worker.intents.conftest import TEST_CONFIG
from worker.store import record_key

LEASE_SECONDS = 6


class Instances:
    """Worker processes of one project, each with its own simulator (`slow` answers)."""

    def __init__(self, stack: LocalStack, root: Path) -> None:
        from google.cloud import firestore

        self.stack, self.root = stack, root
        self.project = unique("leases")
        self.db = firestore.Client(project=self.project)
        self.db.document("config/common").set(TEST_CONFIG)
        self.db.document("config/paper").set({})
        self.started: list[LocalStack] = []

    def start(
        self,
        name: str,
        pubsub: Proxy | None = None,
        env: dict[str, str] | None = None,
        **faults: Any,
    ) -> LocalStack:
        folder = self.root / name
        folder.mkdir()
        state = folder / "simulator.yaml"
        state.write_text(yaml.safe_dump({"positions": [], "faults": faults}))
        worker = side_worker(
            self.stack,
            folder,
            project=self.project,
            env={
                "LEASE_SECONDS": str(LEASE_SECONDS),
                "GATEWAY_LEASE_SECONDS": str(LEASE_SECONDS),
                "SIMULATOR_STATE": str(state),
                **(env or {}),
            },
            subscribe=False,
            pubsub_port=pubsub.port if pubsub else None,
        )
        self.started.append(worker)
        return worker

    def record(self, intent_id: str) -> dict[str, Any]:
        snap = self.db.document(f"intents/{record_key('paper', intent_id)}").get()
        return snap.to_dict() or {}

    def events(self, intent_id: str) -> list[dict[str, Any]]:
        ref = self.db.document(f"intents/{record_key('paper', intent_id)}")
        return [d.to_dict() for d in ref.collection("events").order_by("at").stream()]

    def broker_orders(self, worker: LocalStack) -> list[dict[str, Any]]:
        path = Path(worker.worker_environment()["SIMULATOR_PERSIST"])
        return json.loads(path.read_text())["orders"] if path.exists() else []

    def stop(self) -> None:
        for worker in self.started:
            worker.stop()


@pytest.fixture
def instances(stack: LocalStack, tmp_path: Path) -> Iterator[Instances]:
    made = Instances(stack, tmp_path)
    try:
        yield made
    finally:
        made.stop()


def deliver_in_background(worker: LocalStack, body: dict[str, Any]) -> list[Any]:
    """POST in a thread (the instance is busy with it); the answer lands in the returned list."""
    answers: list[Any] = []

    def run() -> None:
        with contextlib.suppress(OSError):  # killed while it runs this
            answers.append(post(worker, body, timeout=180))

    threading.Thread(target=run, daemon=True).start()
    return answers


def test_a_long_intent_keeps_its_lease_and_a_second_instance_gets_429(instances):
    first = instances.start("first", response_delay=2.5)  # every gateway answer is slow
    second = instances.start("second")
    intent_id = unique("long")
    delivery = envelope({"intent": "summary", "id": intent_id})
    answered = deliver_in_background(first, delivery)
    wait_until(lambda: instances.record(intent_id).get("status") == "running", 30, "claimed")
    started = time.monotonic()
    leases, busy = [], []
    while not answered:
        leases.append(instances.record(intent_id).get("lease", {}).get("expiresAt"))
        status, answer = post(second, delivery)  # a redelivery to another instance
        busy.append((status, answer.get("status")))
        time.sleep(1)
        assert time.monotonic() - started < 120, "the intent never finished"
    ran = time.monotonic() - started
    assert ran > 2 * LEASE_SECONDS, f"ran only {ran:.1f} s: not longer than its lease"
    assert set(busy) == {(429, "busy")}, busy
    renewed = [t for t in leases if t is not None]
    assert renewed[-1] - renewed[0] >= timedelta(seconds=LEASE_SECONDS), "never renewed"
    assert answered[0][0] == 200 and answered[0][1]["status"] == "succeeded", answered
    kinds = [e["type"] for e in instances.events(intent_id)]
    assert "taken over" not in kinds and kinds.count("claimed") == 1, kinds
    assert post(second, delivery)[1].get("duplicate") is True


def test_a_crashed_owner_is_taken_over_within_about_a_lease(instances):
    first = instances.start("first", boot_delay=120)  # dies while its gateway logs in
    second = instances.start("second")
    intent_id = unique("crashed")
    delivery = envelope({"intent": "summary", "id": intent_id})
    deliver_in_background(first, delivery)
    wait_until(lambda: instances.record(intent_id).get("status") == "running", 30, "claimed")
    owner = instances.record(intent_id)["lease"]["owner"]
    time.sleep(LEASE_SECONDS)  # the lease outlives its first term: it is renewed
    assert post(second, delivery)[0] == 429
    kill_group(first)
    killed = time.monotonic()
    expired_at = instances.record(intent_id)["lease"]["expiresAt"]  # the dead owner's last term
    answers = []
    while True:  # Pub/Sub's redeliveries, every second
        status, answer = post(second, delivery, timeout=120)
        answers.append((round(time.monotonic() - killed, 1), status, answer.get("status")))
        if status != 429:
            break
        assert time.monotonic() - killed < 60, answers
        time.sleep(1)
    assert (status, answer["status"]) == (200, "succeeded"), answers
    trail = instances.events(intent_id)
    (taken,) = [e for e in trail if e["type"] == "taken over"]
    assert taken["previousOwner"] == owner
    late = (taken["at"] - expired_at).total_seconds()
    print(f"taken over {late:.1f} s after the dead owner's lease ran out; deliveries {answers}")
    assert 0 <= late < LEASE_SECONDS, f"taken over {late:.1f} s after the lease ran out"


def test_an_instance_that_lost_its_lease_places_no_order(instances):
    """Another owner has the lease (as after a takeover while this instance was cut off from
    Firestore): at its next renewal the instance learns it, and no order goes out from it."""
    first = instances.start("first", boot_delay=LEASE_SECONDS)  # orders come after a renewal
    intent_id = unique("lost")
    answered = deliver_in_background(first, envelope({"intent": "allocation", "id": intent_id}))
    wait_until(lambda: instances.record(intent_id).get("status") == "running", 30, "claimed")
    ref = instances.db.document(f"intents/{record_key('paper', intent_id)}")
    later = datetime.now(UTC) + timedelta(minutes=5)
    ref.update({"lease": {"owner": "another-instance", "expiresAt": later}})
    wait_until(lambda: answered, 60, "the instance answering")
    status, answer = answered[0]
    assert status == 503 and answer["error"]["code"] == "lease-lost", answer
    assert instances.broker_orders(first) == []
    saved = instances.record(intent_id)
    assert saved["lease"]["owner"] == "another-instance" and saved["status"] == "running"
    kinds = [e["type"] for e in instances.events(intent_id)]
    assert "order placed" not in kinds and "attempt failed" not in kinds, kinds


def test_the_lease_is_kept_until_the_result_is_out(stack, instances):
    """A redelivery that reaches another instance after the terminal record but before the result
    went out gets 429, not a second copy of the result."""
    publishing = Proxy(stack.pubsub_port)
    tap = None
    try:
        # Its result waits in the proxy for less than its publishing may take.
        first = instances.start("first", pubsub=publishing, env={"PUBLISH_TIMEOUT_SECONDS": "20"})
        second = instances.start("second")
        tap = Results(first)
        intent_id = unique("publishing")
        delivery = envelope({"intent": "ping", "id": intent_id})
        publishing.hold()  # the result waits in the proxy
        answered = deliver_in_background(first, delivery)
        wait_until(lambda: instances.record(intent_id).get("status") == "succeeded", 30, "ended")
        assert post(second, delivery)[0] == 429
        assert not answered
        publishing.release()
        wait_until(lambda: answered, 30, "the first instance answering")
        assert answered[0][1]["status"] == "succeeded"
        assert post(second, delivery)[1].get("duplicate") is True
        assert len(tap.all_for(intent_id, settle=3)) == 1
    finally:
        if tap is not None:
            tap.close()
        publishing.close()
