"""Issue 16 figures: deliveries through the emulator's push subscription, and the gap between
back-to-back deliveries when the client keeps its connection open."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from contextlib import closing, suppress
from typing import Any
from urllib.parse import urlsplit

from bench.report import Figure, median
from deploy.stack import INTENTS_TOPIC, RESULTS_TOPIC, LocalStack
from tests.support import envelope, unique


class _Arrivals:
    """A streaming pull on a subscription of its own to `intent-results`: when each id's first
    result arrived, and how many results each id got."""

    def __init__(self, stack: LocalStack) -> None:
        from google.cloud import pubsub_v1

        self.client = pubsub_v1.SubscriberClient()
        self.name = stack.subscription(unique("bench-results"))
        self.client.create_subscription(name=self.name, topic=stack.topic(RESULTS_TOPIC))
        self.first: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.statuses: dict[str, str] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._future = self.client.subscribe(self.name, self._received)

    def _received(self, message: Any) -> None:
        now = time.perf_counter()
        result = json.loads(message.data)
        message.ack()
        with self._changed:
            self.first.setdefault(result["id"], now)
            self.count[result["id"]] = self.count.get(result["id"], 0) + 1
            self.statuses[result["id"]] = result["status"]
            self._changed.notify_all()

    def wait_for(self, ids: set[str], timeout: float) -> float:
        """The time the last of `ids` arrived (perf_counter)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ids <= self.first.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = len(ids - self.first.keys())
                    raise AssertionError(f"{missing} of {len(ids)} results not within {timeout} s")
                self._changed.wait(min(left, 1.0))
            return max(self.first[i] for i in ids)

    def close(self) -> None:
        self._future.cancel()
        with suppress(Exception):
            self._future.result(timeout=10)
        self.client.delete_subscription(subscription=self.name)
        self.client.close()


def push_throughput(stack: LocalStack, count: int = 200) -> Figure:
    """`count` pings published on `intents` at once; from the first publish to the last result."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = stack.topic(INTENTS_TOPIC)
    arrivals = _Arrivals(stack)
    try:
        warm = {unique("push-warm") for _ in range(5)}
        for intent_id in warm:
            publisher.publish(topic, json.dumps({"intent": "ping", "id": intent_id}).encode())
        arrivals.wait_for(warm, 60)
        ids = [unique("push") for _ in range(count)]
        t0 = time.perf_counter()
        futures = [
            publisher.publish(topic, json.dumps({"intent": "ping", "id": i}).encode()) for i in ids
        ]
        for future in futures:
            future.result(timeout=60)
        last = arrivals.wait_for(set(ids), 60 + count)
        failed = [i for i in ids if arrivals.statuses[i] != "succeeded"]
        assert not failed, f"{len(failed)} pings did not succeed: {failed[:3]}"
        time.sleep(1)  # results still on their way (a second one of an id) arrive meanwhile
        twice = [i for i in ids if arrivals.count[i] != 1]
        assert not twice, f"{len(twice)} pings got more than one result: {twice[:3]}"
    finally:
        arrivals.close()
        publisher.stop()
    rate = count / (last - t0)
    return Figure(
        f"push deliveries per second, burst of {count} pings",
        rate,
        "deliveries/s",
        20,
        higher_is_better=True,
        headline=f"push deliveries per second: {rate:.1f}",
    )


# -- the gap between back-to-back deliveries ---------------------------------------------------


def _request(body: bytes, host: str, keep_alive: bool) -> bytes:
    connection = "keep-alive" if keep_alive else "close"
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n"
    )
    return head.encode() + body


def _read_answer(sock: socket.socket) -> int:
    """Read one HTTP answer (status line, headers, Content-Length body); its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the worker closed before answering")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the worker closed in the middle of an answer")
        rest += chunk
    return int(lines[0].split()[1])


def _ignored_delivery() -> bytes:
    """A delivery the worker answers without Firestore or Pub/Sub (one for the other trading
    mode), so that the gap is the server's, not the emulators'."""
    data = {"intent": "ping", "id": unique("gap")}
    return json.dumps(envelope(data, {"tradingMode": "live"})).encode()


def _gaps_socket(stack: LocalStack, count: int, close: bool) -> list[float]:
    """Raw sockets: each delivery on a new connection, sent right after the previous answer;
    the earlier connections are closed at once (`close`) or left open, as a keep-alive push
    client leaves them. A gap is from one answer to the next."""
    url = urlsplit(stack.worker_url)
    address = (url.hostname or "127.0.0.1", url.port or 80)
    kept: list[socket.socket] = []
    gaps = []
    try:
        last = time.perf_counter()
        for _ in range(count):
            sock = socket.create_connection(address, timeout=30)
            sock.sendall(_request(_ignored_delivery(), url.netloc, keep_alive=not close))
            assert _read_answer(sock) == 200
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now
            if close:
                sock.close()
            else:
                kept.append(sock)
    finally:
        for sock in kept:
            sock.close()
    return gaps[1:]


def _gaps_http_client(stack: LocalStack, count: int) -> list[float]:
    """One http.client connection asked to stay open for every delivery (it reconnects by
    itself when the worker says `Connection: close`)."""
    url = urlsplit(stack.worker_url)
    gaps = []
    host = url.hostname or "127.0.0.1"
    with closing(http.client.HTTPConnection(host, url.port, timeout=30)) as conn:
        last = time.perf_counter()
        for _ in range(count):
            headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
            conn.request("POST", "/", body=_ignored_delivery(), headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now
    return gaps[1:]


def keep_alive_gap(stack: LocalStack, count: int = 50) -> list[Figure]:
    closing_client = median(_gaps_socket(stack, count, close=True))
    kept_open = median(_gaps_socket(stack, count, close=False))
    http_client = median(_gaps_http_client(stack, count))
    return [
        Figure(
            f"gap between deliveries, keep-alive socket left open, median of {count}",
            kept_open,
            "ms",
            50,
            baseline=closing_client,
            baseline_name="a client that closes",
        ),
        Figure(
            f"gap between deliveries, keep-alive http.client, median of {count}",
            http_client,
            "ms",
            50,
            baseline=closing_client,
            baseline_name="a client that closes",
        ),
    ]


def run(stack: LocalStack) -> list[Figure]:
    return [*keep_alive_gap(stack), push_throughput(stack)]
