"""The whole worker killed at each moment of an allocation with two orders, then started again.

SIGKILL goes to the worker's process group (gunicorn's master and worker; the gateway, in a group
of its own, must follow through its guard) before the claim, after the claim, after the first
order, after the last order, after the terminal record, after publishing (and, measured apart,
between publishing and recording it); once only the gunicorn worker process is killed. The
worker then starts again as the stack starts it, with the stack's default subscription limits
(20 delivery attempts, backoff 1-10 s) and short leases. Each scenario must end with exactly one
result, holdings equal to the broker's positions, no order twice, no dead letter without a
result, and no gateway process or credential left behind.

Each scenario has a project of its own on the stack's emulators (topics, subscriptions, records,
holdings, gateway lease), its own worker in IBC mode (the stand-in ibcstart.sh logging in with
canary credentials) and its own broker (the stand-in's simulator, keeping the account in a file
across gateway sessions); the scenarios run side by side. Nothing in the worker knows about them:
a moment is reached by holding the worker's traffic in a proxy (its Firestore or Pub/Sub
requests, or its answer to the push) or by the simulator's faults (a stall after an order, slow
answers, a long login), read from a state file that is rewritten before the restart.
CRASH_PARALLEL (default 4) says how many scenarios run at a time.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.stack import LocalStack
from tests import proc_table
from tests.support import (
    Proxy,
    Results,
    kill_group,
    processes_with,
    publish,
    side_worker,
    unique,
    wait_until,
)
from tests.worker.gateway.test_worker_process import files_holding
from tests.worker.intents.conftest import TEST_CONFIG
from worker.store import TERMINAL, record_key

STANDIN = Path(__file__).parent / "gateway" / "ibcstart_standin.sh"
CREDENTIALS = {"userid": "canary-userid-NOT-REAL-5q", "password": "FIXTURE-NOT-A-SECRET-7f3a"}
LEASE_SECONDS = 6
PARALLEL = int(os.environ.get("CRASH_PARALLEL", "4"))
FLAT = {"positions": []}  # a cash-only account: the allocation places two orders (SPY, TLT)


# -- one scenario's world ---------------------------------------------------------------------


class Lane:
    """A project, a worker (behind proxies) and a broker of one scenario."""

    def __init__(self, stack: LocalStack, name: str) -> None:
        from google.cloud import firestore, pubsub_v1

        self.name = name
        self.dir = stack.log_dir / f"crash-{name}"
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "ibc" / "scripts").mkdir(parents=True)
        shutil.copy(STANDIN, self.dir / "ibc" / "scripts" / "ibcstart.sh")
        (self.dir / "ibgateway" / "1030").mkdir(parents=True)
        (self.dir / "tmp").mkdir()
        self.state = self.dir / "simulator-state.yaml"
        self.broker_file = self.dir / "broker.json"
        python = self.dir / "simulator-python"  # the stand-in's simulator, with our account
        python.write_text(
            f'#!/bin/sh\nexec {sys.executable} "$@" --state "$SIMULATOR_STATE" '
            '--persist "$SIMULATOR_PERSIST"\n'
        )
        python.chmod(0o755)
        self.set_broker(FLAT)
        self.project = f"crash-{name}"
        self.db = firestore.Client(project=self.project)
        config = self.db.collection("config")
        config.document("common").set(TEST_CONFIG)
        config.document("paper").set({})
        self.firestore = Proxy(stack.firestore_port)
        self.pubsub = Proxy(stack.pubsub_port)
        self.gateway_port = 0
        env = {
            "GATEWAY_MODE": "ibc",
            "IB_CREDENTIALS_JSON": json.dumps(CREDENTIALS),
            "IBC_PATH": str(self.dir / "ibc"),
            "TWS_PATH": str(self.dir / "ibgateway"),
            "IBC_INI": str(self.dir / "ibc" / "missing.ini"),
            "STANDIN_PYTHON": str(python),
            "SIMULATOR_STATE": str(self.state),
            "SIMULATOR_PERSIST": str(self.broker_file),
            "TMPDIR": str(self.dir / "tmp"),
            "LEASE_SECONDS": str(LEASE_SECONDS),
            "GATEWAY_LEASE_SECONDS": str(LEASE_SECONDS),
            # A held request must not time out before the kill it waits for.
            "FIRESTORE_TIMEOUT_SECONDS": "8",
            "PUBLISH_TIMEOUT_SECONDS": "4",
        }
        self.side = side_worker(
            stack,
            self.dir,
            project=self.project,
            env=env,
            pubsub_port=self.pubsub.port,
            firestore_port=self.firestore.port,
        )
        self.gateway_port = self.side.gateway_port
        # Pub/Sub pushes through a proxy too, so that the worker's answer can be held.
        self.push = Proxy(self.side.worker_port)
        try:
            pubsub_v1.SubscriberClient().modify_push_config(
                request={
                    "subscription": self.side.subscription(self.side.push_subscription),
                    "push_config": {"push_endpoint": f"http://127.0.0.1:{self.push.port}/"},
                }
            )
            self.results = Results(self.side)
        except BaseException:
            self.side.stop()
            raise

    # The broker and the records.

    def set_broker(self, state: dict[str, Any]) -> None:
        """What the next gateway session's simulator starts from (its account comes from the
        persisted file once there is one)."""
        self.state.write_text(yaml.safe_dump(state))

    def broker(self) -> dict[str, Any]:
        if not self.broker_file.exists():
            return {"orders": [], "positions": [], "executions": []}
        return json.loads(self.broker_file.read_text())

    def record(self, intent_id: str) -> dict[str, Any] | None:
        snap = self.db.collection("intents").document(record_key("paper", intent_id)).get()
        return snap.to_dict() if snap.exists else None

    def events(self, intent_id: str) -> list[str]:
        ref = self.db.collection("intents").document(record_key("paper", intent_id))
        return [d.to_dict()["type"] for d in ref.collection("events").order_by("at").stream()]

    def open_orders(self, intent_id: str) -> list[str]:
        docs = self.db.collection("positions/paper/openOrders").stream()
        refs = (d.to_dict().get("orderRef", "") for d in docs)
        return [ref for ref in refs if ref.startswith(f"{intent_id}:")]

    def holdings(self) -> dict[str, float]:
        doc = self.db.document("positions/paper/holdings/static-weights").get()
        held = (doc.to_dict() or {}).get("positions", {}) if doc.exists else {}
        return {str(k): float(v) for k, v in held.items() if v}

    def dead_letters(self) -> list[dict[str, Any]]:
        from google.api_core.exceptions import DeadlineExceeded
        from google.cloud import pubsub_v1

        client = pubsub_v1.SubscriberClient()
        keep = self.side.subscription("intents-dead-letter-keep")
        try:
            response = client.pull(subscription=keep, max_messages=50, timeout=5)
        except DeadlineExceeded:
            return []
        return [json.loads(m.message.data) for m in response.received_messages]

    # The worker's processes.

    def processes(self) -> list[int]:
        """Every process of this lane's worker and gateway (they inherit its gateway port)."""
        return processes_with("IB_GATEWAY_PORT", str(self.gateway_port))

    def gateway_processes(self) -> list[int]:
        master = self.side.children["worker"].proc
        ours = (
            {master.pid, *proc_table.children(master.pid)}
            if master and master.poll() is None
            else set()
        )
        return [pid for pid in self.processes() if pid not in ours]

    def credential_files(self) -> list[Path]:
        return [
            path
            for secret in CREDENTIALS.values()
            for path in files_holding(secret, self.dir / "tmp", Path("/dev/shm"))
        ]

    def kill(self) -> None:
        kill_group(self.side)

    def release_all(self) -> None:
        for proxy in (self.firestore, self.pubsub, self.push):
            proxy.drop()  # the dead worker's held requests and answers never arrive
            proxy.release("up")
            proxy.release("down")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.results.close()
        self.side.stop()
        for proxy in (self.firestore, self.pubsub, self.push):
            proxy.close()


@dataclass
class Outcome:
    """What a scenario left behind, and what held at the moment of the kill."""

    intent_id: str
    at_kill: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    broker: dict[str, Any] = field(default_factory=dict)
    holdings: dict[str, float] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    left_after_kill: list[int] = field(default_factory=list)
    left_at_end: list[int] = field(default_factory=list)
    credential_files: list[Path] = field(default_factory=list)
    recovered_seconds: float = 0.0
    total_seconds: float = 0.0


def snapshot(lane: Lane, intent_id: str) -> dict[str, Any]:
    record = lane.record(intent_id) or {}
    return {
        "status": record.get("status"),
        "resultPublished": record.get("resultPublished"),
        "orders": len(lane.broker()["orders"]),
        "results": len(lane.results.all_for(intent_id, settle=0.2)),
    }


def play(stack: LocalStack, name: str) -> Outcome:
    """Start a lane, publish an allocation, reach the moment, kill, recover, and collect."""
    moment = SCENARIOS[name]
    t0 = time.monotonic()
    lane = Lane(stack, name)
    try:
        intent_id = unique(name)
        outcome = Outcome(intent_id)
        lane.set_broker({**FLAT, "faults": moment.faults})
        for proxy, direction in moment.held:
            getattr(lane, proxy).hold(direction)
        publish(lane.side, {"intent": "allocation", "id": intent_id})
        moment.reach(lane, intent_id)
        lane.push.hold()  # redeliveries wait until the dead worker's gateway was checked
        if moment.whole:
            lane.kill()
        else:  # only gunicorn's worker process; the master forks a new one
            master = lane.side.children["worker"].proc
            (worker,) = proc_table.children(master.pid)
            os.kill(worker, signal.SIGKILL)
        killed, killed_at = time.monotonic(), datetime.now(UTC)
        lane.set_broker(FLAT)  # the fault that held it there is gone with that gateway
        outcome.at_kill = snapshot(lane, intent_id)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not lane.gateway_processes(), 15, "the gateway gone")
        outcome.left_after_kill = lane.gateway_processes()
        outcome.credential_files = lane.credential_files()
        lane.release_all()
        if moment.whole:
            lane.side.restart_worker()  # the same settings, as the stack starts its worker
        lane.results.for_id(intent_id, timeout=180)
        # Done once a delivery after the kill was answered and the result is recorded as out.
        wait_until(
            lambda: (
                (r := lane.record(intent_id) or {}).get("resultPublished")
                and r["updatedAt"] > killed_at
            ),
            180,
            "the redelivery handled",
        )
        outcome.recovered_seconds = time.monotonic() - killed
        outcome.results = lane.results.all_for(intent_id, settle=4)
        outcome.record = lane.record(intent_id) or {}
        outcome.events = lane.events(intent_id)
        outcome.broker = lane.broker()
        outcome.holdings = lane.holdings()
        outcome.dead_letters = lane.dead_letters()
    finally:
        lane.close()
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not lane.processes(), 15, "every process of the lane gone")
    outcome.left_at_end = lane.processes()
    outcome.credential_files += lane.credential_files()
    outcome.total_seconds = time.monotonic() - t0
    return outcome


# -- the moments ------------------------------------------------------------------------------


def before_the_claim(lane: Lane, intent_id: str) -> None:
    # The worker's first request to Firestore is the claim: held, it never arrives.
    wait_until(lambda: lane.firestore.held["up"], 60, "the worker sending its claim")
    time.sleep(0.3)


def after_the_claim(lane: Lane, intent_id: str) -> None:
    wait_until(
        lambda: (lane.record(intent_id) or {}).get("status") == "running" and lane.processes(),
        60,
        "the intent claimed and the gateway logging in",
    )
    time.sleep(0.5)


def after_the_first_order(lane: Lane, intent_id: str) -> None:
    wait_until(lambda: len(lane.broker()["orders"]) >= 1, 90, "the first order at the broker")


def after_the_last_order(lane: Lane, intent_id: str) -> None:
    # The broker answers slowly: between the second order's openOrders record and its arrival
    # at the broker the worker's next Firestore write is held.
    wait_until(lambda: len(lane.open_orders(intent_id)) >= 2, 120, "two orders recorded", 0.02)
    lane.firestore.hold()
    wait_until(lambda: len(lane.broker()["orders"]) >= 2, 30, "the second order at the broker")
    time.sleep(0.3)


def after_the_terminal_record(lane: Lane, intent_id: str) -> None:
    wait_until(
        lambda: (lane.record(intent_id) or {}).get("status") in TERMINAL, 120, "a terminal record"
    )
    time.sleep(0.3)


def after_publishing(lane: Lane, intent_id: str) -> None:
    # The result went out and was recorded as published; the answer to the push never arrives.
    wait_until(
        lambda: (lane.record(intent_id) or {}).get("resultPublished"), 120, "result published"
    )
    time.sleep(0.3)


def between_publishing_and_recording_it(lane: Lane, intent_id: str) -> None:
    after_the_terminal_record(lane, intent_id)
    lane.firestore.hold()
    lane.pubsub.release()
    lane.results.for_id(intent_id, timeout=30)
    time.sleep(0.3)


@dataclass(frozen=True)
class Moment:
    reach: Callable[[Lane, str], None]
    faults: dict[str, Any] = field(default_factory=dict)  # the broker's, until the kill
    held: tuple[tuple[str, str], ...] = ()  # (proxy, direction) held from the start
    whole: bool = True  # SIGKILL to the whole worker, else only to gunicorn's worker process


SCENARIOS = {
    "before-claim": Moment(before_the_claim, held=(("firestore", "up"),)),
    "after-claim": Moment(after_the_claim, {"boot_delay": 120}),  # a login that takes long
    "first-order": Moment(after_the_first_order, {"stall_after_orders": 1}),
    "last-order": Moment(after_the_last_order, {"response_delay": 0.5}),
    # The worker's only Pub/Sub request is its result.
    "terminal-record": Moment(after_the_terminal_record, held=(("pubsub", "up"),)),
    "published": Moment(after_publishing, held=(("push", "down"),)),
    "publishing": Moment(between_publishing_and_recording_it, held=(("pubsub", "up"),)),
    "gunicorn-worker": Moment(after_the_first_order, {"stall_after_orders": 1}, whole=False),
}


@pytest.fixture(scope="module")
def crashes(request: pytest.FixtureRequest, stack: LocalStack) -> Iterator[dict[str, Future]]:
    """Every scenario the session selected, started side by side."""
    wanted = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.module is request.module
        and "name" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        yield {name: pool.submit(play, stack, name) for name in dict.fromkeys(wanted)}


# What held when the worker was killed: the proof that each moment was the one named.
AT_KILL = {
    "before-claim": {"status": None, "orders": 0, "results": 0},
    "after-claim": {"status": "running", "orders": 0, "results": 0},
    "first-order": {"status": "running", "orders": 1, "results": 0},
    "last-order": {"status": "running", "orders": 2, "results": 0},
    "terminal-record": {"status": "succeeded", "resultPublished": False, "results": 0},
    "published": {"status": "succeeded", "resultPublished": True, "results": 1},
    "publishing": {"status": "succeeded", "resultPublished": False, "results": 1},
    "gunicorn-worker": {"status": "running", "orders": 1, "results": 0},
}


def check_left_behind(name: str, outcome: Outcome) -> None:
    """What every scenario must leave: the broker's positions in the holdings, no order twice,
    no dead letter without a result, no process and no credential."""
    print(
        f"crash {name}: at the kill {outcome.at_kill}; result after "
        f"{outcome.recovered_seconds:.1f} s, scenario {outcome.total_seconds:.1f} s; "
        f"events {outcome.events}"
    )
    at_kill = {k: outcome.at_kill[k] for k in AT_KILL[name]}
    assert at_kill == AT_KILL[name], "the worker was not killed at the moment named"
    assert outcome.record["status"] == "succeeded"
    assert outcome.record["resultPublished"] is True
    refs = collections.Counter(o["orderRef"] for o in outcome.broker["orders"])
    assert len(refs) == 2 and set(refs.values()) == {1}, refs  # SPY and TLT, each once
    assert all(ref.startswith(f"{outcome.intent_id}:") for ref in refs)
    broker = {str(p["conId"]): float(p["quantity"]) for p in outcome.broker["positions"]}
    assert outcome.holdings == {k: v for k, v in broker.items() if v}
    ended = {r["id"] for r in outcome.results}
    assert [d for d in outcome.dead_letters if d.get("id") not in ended] == []
    assert outcome.left_after_kill == [], "a gateway outlived its worker"
    assert outcome.left_at_end == []
    assert outcome.credential_files == []


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "publishing"])
def test_a_killed_worker_ends_the_allocation_with_one_result(crashes, name):
    outcome = crashes[name].result()
    check_left_behind(name, outcome)
    assert [r["status"] for r in outcome.results] == ["succeeded"]
    assert {o["orderRef"] for o in outcome.results[0]["result"]["orders"]} == {
        o["orderRef"] for o in outcome.broker["orders"]
    }


@pytest.mark.parametrize("name", ["publishing"])
def test_killed_between_publishing_and_recording_it_the_same_result_goes_out_again(crashes, name):
    """The one window where a second result can go out: the result was published, the worker
    died before recording that, and the redelivery cannot know. It is the identical message
    (subscribers that must act once deduplicate by id); everything else holds."""
    outcome = crashes[name].result()
    check_left_behind(name, outcome)
    assert len(outcome.results) == 2
    first, second = outcome.results
    assert first == second
    assert outcome.events.count("result published") == 1
