"""Helpers for throwing hostile input at the real worker: raw HTTP over a socket, the gunicorn
worker's memory, the shape of Firestore, the dead-letter topic and the worker's log."""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deploy.stack import DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_TOPIC, LocalStack
from tests import proc_table
from tests.support import unique

# Every 400 answer is one of these, word for word: short, stable, nothing a library said.
STABLE_400 = frozenset(
    {
        "empty request body: expected a Pub/Sub push or a CloudEvent",
        "request body is not JSON and carries no Pub/Sub headers",
        "expected a JSON object with a 'message' object (Pub/Sub push)",
        "Pub/Sub message has no valid messageId",
        "malformed CloudEvent",
        "CloudEvent data is not a Pub/Sub message",
        "request body too large",
        "request body could not be read",
    }
)
# How a record's key looks: `{mode}:{id}`, with an id of the contract or a Pub/Sub message id.
RECORD_KEY = re.compile(r"(paper|live):[A-Za-z0-9._:-]{1,100}")


# -- raw HTTP -----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(stack: LocalStack, timeout: float = 30) -> socket.socket:
    url = urlsplit(stack.worker_url)
    return socket.create_connection((url.hostname, url.port), timeout=timeout)


def request_head(
    headers: dict[str, str], method: str = "POST", path: str = "/", host: str = "worker"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_reply(sock: socket.socket) -> Reply:
    """Read one HTTP answer until the server closes (the worker closes after every answer)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        if b"\r\n\r\n" not in data:
            raise
    head, _, body = data.partition(b"\r\n\r\n")
    while head.split(b" ", 2)[1:2] == [b"100"]:  # `Expect: 100-continue` gets one first
        head, _, body = body.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status_line.split()[1]), headers, body)


def raw(stack: LocalStack, data: bytes, timeout: float = 30) -> Reply:
    """Send `data` as it is and read the answer."""
    with connect(stack, timeout) as sock:
        sock.sendall(data)
        return read_reply(sock)


def assert_stable_400(reply: Reply) -> None:
    assert reply.status == 400, (reply.status, reply.body[:300])
    body = reply.json()
    assert set(body) == {"error"} and body["error"] in STABLE_400, body


# -- the worker process -------------------------------------------------------------------------


def gunicorn_worker_pid(stack: LocalStack) -> int:
    """The pid of the process that serves requests: the gunicorn master's only child."""
    master = stack.children["worker"].proc.pid
    children = proc_table.children(master)
    assert len(children) == 1, f"gunicorn master {master} has workers {children}"
    return children[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


# -- the worker's log ---------------------------------------------------------------------------


def log_offset(stack: LocalStack) -> int:
    return (stack.log_dir / "worker.log").stat().st_size


def log_lines(stack: LocalStack, after: int = 0) -> list[dict[str, Any]]:
    """The worker's JSON log lines written past offset `after` (other lines as {"raw": line})."""
    with (stack.log_dir / "worker.log").open("rb") as log:
        log.seek(after)
        text = log.read().decode(errors="replace")
    lines = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        lines.append(parsed if isinstance(parsed, dict) else {"raw": line})
    return lines


def crashes(lines: list[dict[str, Any]]) -> list[str]:
    """What an unhandled exception leaves in the log (Flask's and gunicorn's words)."""
    words = ("Traceback", "Exception on /", "Error handling request", "Socket error processing")
    found = [json.dumps(x)[:500] for x in lines if any(w in json.dumps(x) for w in words)]
    return found


def said_about(lines: list[dict[str, Any]], message_id: str) -> list[str]:
    """What the worker logged while it handled this message id (each delivery says what it
    decided: "message rejected: ...", "intent X succeeded", "duplicate delivery ...")."""
    return [str(x.get("message")) for x in lines if x.get("messageId") == message_id]


# -- Firestore ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What Firestore holds at the top: collections, intent record keys, their subcollections."""

    collections: frozenset[str]
    keys: frozenset[str]
    subcollections: dict[str, tuple[str, ...]]
    taken: datetime


def firestore_shape(db: Any) -> Shape:
    taken = datetime.now(UTC) - timedelta(seconds=1)
    refs = list(db.collection("intents").list_documents())  # also keys holding only events
    with ThreadPoolExecutor(8) as pool:
        subs = list(pool.map(lambda ref: tuple(sorted(c.id for c in ref.collections())), refs))
    return Shape(
        frozenset(c.id for c in db.collections()),
        frozenset(ref.id for ref in refs),
        {ref.id: sub for ref, sub in zip(refs, subs, strict=True)},
        taken,
    )


def assert_nothing_outside_intent_records(db: Any, before: Shape) -> Shape:
    """Nothing new but `intents/{mode}:{id}` and their `events`: no new top-level collection, no
    key of another form, no other subcollection, and every event where the worker puts it."""
    after = firestore_shape(db)
    assert after.collections - before.collections <= {"intents"}, after.collections
    new = after.keys - before.keys
    odd = sorted(k for k in new if not RECORD_KEY.fullmatch(k))
    assert not odd, f"intent records with keys not of the form mode:id: {odd}"
    changed = [k for k, sub in after.subcollections.items() if sub != before.subcollections.get(k)]
    strange = {
        k: after.subcollections[k] for k in changed if after.subcollections[k] != ("events",)
    }
    assert not strange, f"subcollections other than events: {strange}"
    touched = []
    for event in db.collection_group("events").stream():
        path = event.reference.path.split("/")
        assert len(path) == 4 and path[0] == "intents", f"an events document at {path}"
        if _time(event.create_time) >= before.taken:  # written since: by what was thrown
            assert {"type", "at"} <= set(event.to_dict()), (path, event.to_dict())
            touched.append(event.reference)
    with ThreadPoolExecutor(8) as pool:
        nested = list(pool.map(lambda ref: [c.id for c in ref.collections()], touched))
    below = {ref.path: sub for ref, sub in zip(touched, nested, strict=True) if sub}
    assert not below, f"collections under events: {below}"
    return after


def _time(value: Any) -> datetime:
    """A snapshot's time: a datetime, or a protobuf Timestamp from some queries."""
    return value.ToDatetime(tzinfo=UTC) if hasattr(value, "ToDatetime") else value


# -- the dead-letter topic ----------------------------------------------------------------------


class DeadLetters:
    """A subscription on the dead-letter topic made before a test publishes, so it sees every
    message dead-lettered meanwhile; also peeks (without taking) at the stack's keeping one."""

    def __init__(self, stack: LocalStack) -> None:
        from google.cloud import pubsub_v1

        self.stack = stack
        self.client = pubsub_v1.SubscriberClient()
        self.name = stack.subscription(unique("dead-letters"))
        self.client.create_subscription(name=self.name, topic=stack.topic(DEAD_LETTER_TOPIC))

    def _pull(self, subscription: str, take: bool) -> list[Any]:
        response = self.client.pull(subscription=subscription, max_messages=100, timeout=5)
        acks = [m.ack_id for m in response.received_messages]
        if acks and take:
            self.client.acknowledge(subscription=subscription, ack_ids=acks)
        elif acks:  # put them back at once for whoever reads them
            self.client.modify_ack_deadline(
                subscription=subscription, ack_ids=acks, ack_deadline_seconds=0
            )
        return [m.message for m in response.received_messages]

    def about(self, needles: list[str]) -> list[str]:
        """Dead letters whose data or attributes mention any of `needles`."""
        keep = self.stack.subscription(DEAD_LETTER_SUBSCRIPTION)
        found = self._pull(self.name, take=True) + self._pull(keep, take=False)
        texts = [m.data.decode(errors="replace") + json.dumps(dict(m.attributes)) for m in found]
        texts += [m.message_id for m in found]
        return [t[:300] for t in texts if any(n in t for n in needles)]

    def close(self) -> None:
        self.client.delete_subscription(subscription=self.name)


def settle(seconds: float) -> None:
    """Give Pub/Sub time to redeliver whatever was not acked (the stack's backoff is 1-2 s)."""
    time.sleep(seconds)
