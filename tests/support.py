"""Test helpers: build deliveries, talk to the worker over HTTP, read results and records."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from deploy.processes import free_port
from deploy.stack import INTENTS_TOPIC, RESULTS_TOPIC, LocalStack
from tests import proc_table


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
    path: str = "",
) -> tuple[int, dict[str, Any]]:
    """POST to the worker (at `path`, e.g. `dead-letter`); returns (status, JSON body)."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        stack.worker_url + path,
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
        from google.api_core.exceptions import DeadlineExceeded

        try:
            response = self.client.pull(subscription=self.name, max_messages=50, timeout=timeout)
        except DeadlineExceeded:  # nothing arrived in time
            return
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


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"not within {timeout:g} s: {what}")


# -- more workers, and what a test can put between them and the emulators -----------------------


def side_worker(
    stack: LocalStack,
    state_dir: Path,
    *,
    mode: str = "paper",
    project: str | None = None,
    env: dict[str, str] | None = None,
    pubsub_port: int | None = None,
    firestore_port: int | None = None,
    subscribe: bool = True,
) -> LocalStack:
    """Another worker on the stack's emulators, started the way the stack starts its own, with
    the topics (created if missing) and push subscriptions `worker-push-{mode}` and
    `worker-dead-letter-{mode}` of its project, at the stack's default limits (20 delivery
    attempts, backoff 1-10 s): another trading mode of the stack's project, or a project of its
    own (its own records, holdings and gateway lease); with `subscribe=False` none, a second
    instance that gets what a test posts to it. `pubsub_port` and `firestore_port` put
    something between the worker and the emulators (a Proxy). `.stop()` stops it;
    `drop_push_subscriptions` removes its subscriptions."""
    from deploy.stack import StackOptions

    side = LocalStack(
        StackOptions(
            project=project or stack.options.project,
            trading_mode=mode,
            state_dir=state_dir,
            worker_env={**stack.options.worker_env, **(env or {})},
            dashboard=False,
        ),
        quiet=True,
    )
    side.pubsub_port = pubsub_port or stack.pubsub_port
    side.firestore_port = firestore_port or stack.firestore_port
    return side.start_worker_beside(subscribe)


def drop_push_subscriptions(side: LocalStack) -> None:
    from google.api_core.exceptions import NotFound
    from google.cloud import pubsub_v1

    from worker import names

    client = pubsub_v1.SubscriberClient()
    mode = side.options.trading_mode
    for name in (names.push_subscription(mode), names.dead_letter_subscription(mode)):
        with contextlib.suppress(NotFound):
            client.delete_subscription(subscription=side.subscription(name))


def kill_group(side: LocalStack) -> None:
    """SIGKILL the worker's whole process group (gunicorn's master and worker); its gateway runs
    in a group of its own and must follow by itself."""
    proc = side.children["worker"].proc
    assert proc is not None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def processes_with(key: str, value: str) -> list[int]:
    """Living processes of this user with `key=value` in their environment: a worker, its
    gateway and whatever they started inherit it."""
    needle = f"{key}={value}".encode()
    return [
        p.pid
        for p in proc_table.processes()
        if p.alive and proc_table.environment_has(p.pid, needle)
    ]


class Proxy:
    """A TCP proxy to 127.0.0.1:`target` whose traffic a test holds, each direction on its own:
    `up` (client to server) and `down`. Held bytes wait in the proxy and `release` sends them on;
    when their sender closes its end first they are never delivered, and both ends are reset (as
    if the sender had died before sending them). `drop()` resets every open connection."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._holding = {"up": threading.Event(), "down": threading.Event()}
        self.held = {"up": 0, "down": 0}  # bytes that arrived while the direction was held
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True).start()

    def hold(self, direction: str = "up") -> None:
        self._holding[direction].set()

    def release(self, direction: str = "up") -> None:
        self._holding[direction].clear()

    def drop(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def close(self) -> None:
        self._listener.close()
        self.drop()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open |= {client, server}
            for src, dst, direction in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, direction), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        buffer, holding = bytearray(), self._holding[direction]
        try:
            while True:
                if select.select([src], [], [], 0.05)[0]:
                    data = src.recv(65536)
                    if not data:
                        if buffer and holding.is_set():
                            raise ConnectionAbortedError("held bytes die with their sender")
                        dst.sendall(buffer)
                        dst.shutdown(socket.SHUT_WR)
                        return
                    buffer += data
                    if holding.is_set():
                        self.held[direction] += len(data)
                if buffer and not holding.is_set():
                    dst.sendall(buffer)
                    buffer.clear()
        except (OSError, ValueError):  # reset, or closed by drop()
            with self._lock:
                self._open -= {src, dst}
            _reset(src)
            _reset(dst)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
