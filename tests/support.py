"""Test helpers: build deliveries, talk to the worker over HTTP, read results and records."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from deploy.processes import free_port
from deploy.stack import INTENTS_TOPIC, RESULTS_TOPIC, LocalStack


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def envelope(
    data: bytes | str | dict | None,
    attributes: dict[str, str] | None = None,
    message_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A wrapped push body as Pub/Sub sends it."""
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    message: dict[str, Any] = {
        "messageId": message_id or unique("m"),
        "publishTime": "2026-01-01T00:00:00.000Z",
        "attributes": attributes or {},
    }
    if data is not None:
        message["data"] = base64.b64encode(data).decode()
    return {"message": message, "subscription": "projects/local-ib/subscriptions/test", **extra}


def post(
    stack: LocalStack,
    body: bytes | dict,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, Any]]:
    """POST to the worker; returns (status, JSON body)."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        stack.worker_url,
        data=raw,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def publish(stack: LocalStack, data: bytes | dict, **attributes: str) -> str:
    from google.cloud import pubsub_v1

    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    future = pubsub_v1.PublisherClient().publish(stack.topic(INTENTS_TOPIC), raw, **attributes)
    return future.result(timeout=30)


class Results:
    """A pull subscription on `intent-results` created for one test."""

    def __init__(self, stack: LocalStack) -> None:
        from google.cloud import pubsub_v1

        self.client = pubsub_v1.SubscriberClient()
        self.name = stack.subscription(unique("results"))
        self.client.create_subscription(name=self.name, topic=stack.topic(RESULTS_TOPIC))
        self.seen: list[dict[str, Any]] = []

    def _pull(self, timeout: float) -> None:
        response = self.client.pull(subscription=self.name, max_messages=50, timeout=timeout)
        if response.received_messages:
            self.client.acknowledge(
                subscription=self.name, ack_ids=[m.ack_id for m in response.received_messages]
            )
        for received in response.received_messages:
            result = json.loads(received.message.data)
            result["_attributes"] = dict(received.message.attributes)
            self.seen.append(result)

    def for_id(self, intent_id: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for the first result with this id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.seen if r["id"] == intent_id]
            if found:
                return found[0]
            self._pull(timeout=min(2, max(0.1, deadline - time.monotonic())))
        raise AssertionError(f"no result for {intent_id} within {timeout} s; saw {self.ids()}")

    def all_for(self, intent_id: str, settle: float = 2.0) -> list[dict[str, Any]]:
        """Every result with this id that arrives within `settle` seconds."""
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            self._pull(timeout=0.5)
        return [r for r in self.seen if r["id"] == intent_id]

    def ids(self) -> list[str]:
        return [r["id"] for r in self.seen]

    def close(self) -> None:
        self.client.delete_subscription(subscription=self.name)


def intent_ref(db: Any, intent_id: str, mode: str = "paper") -> Any:
    from worker.store import record_key

    return db.collection("intents").document(record_key(mode, intent_id))


def events(db: Any, intent_id: str, mode: str = "paper") -> list[str]:
    docs = intent_ref(db, intent_id, mode).collection("events").order_by("at").stream()
    return [d.to_dict()["type"] for d in docs]


def record(db: Any, intent_id: str, mode: str = "paper") -> dict[str, Any] | None:
    snap = intent_ref(db, intent_id, mode).get()
    return snap.to_dict() if snap.exists else None


def pipeline(stack: LocalStack, **env: str) -> Any:
    """An in-process pipeline on the stack's emulators, with settings of its own."""
    from worker.database import Database
    from worker.gateway.session import GatewaySession
    from worker.pipeline import Pipeline
    from worker.results import ResultPublisher
    from worker.runner import Runner
    from worker.settings import Settings
    from worker.store import IntentStore

    settings = Settings.from_env(
        {
            **stack.worker_environment(),
            "FIRESTORE_TIMEOUT_SECONDS": "3",
            "IB_GATEWAY_PORT": str(free_port()),
            # The simulator's default account, fresh for every gateway session, unless a test
            # says otherwise.
            "SIMULATOR_STATE": "",
            "SIMULATOR_PERSIST": "",
            **env,
        }
    )
    db = Database(settings)
    store = IntentStore(settings, db)
    session = GatewaySession(settings, db)
    runner = Runner(settings, session=lambda: session, audit=store.audit, db=db, renew=store.renew)
    built = Pipeline(
        settings=settings, store=store, publisher=ResultPublisher(settings), runner=runner
    )
    built.session = session  # for tests to inspect and close
    return built


def delivery(data: dict, message_id: str | None = None) -> Any:
    from worker.delivery import decode

    return decode({}, json.dumps(envelope(data, message_id=message_id)).encode())


def log_size(stack: LocalStack) -> int:
    return (stack.log_dir / "worker.log").stat().st_size


def wait_for_log(stack: LocalStack, needle: str, after: int = 0, timeout: float = 30) -> None:
    """Wait until the worker logs `needle` (in what it wrote past offset `after`)."""
    import time

    path = stack.log_dir / "worker.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with path.open("rb") as log:
            log.seek(after)
            if needle.encode() in log.read():
                return
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not in the worker log within {timeout} s")
