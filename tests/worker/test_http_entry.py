"""The worker's HTTP entry under attack, over real HTTP to the real server (gunicorn, the local
stack): arbitrary deliveries never get a 5xx nor write outside `intents/{mode}:{id}` and its
`events`, and the worker answers the next ping; broken, huge and slow bodies are cut off without
holding memory or the only worker thread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import envelope, post, unique
from tests.worker.hostile import (
    STABLE_400,
    Reply,
    assert_nothing_outside_intent_records,
    assert_stable_400,
    connect,
    crashes,
    firestore_shape,
    gunicorn_worker_pid,
    log_lines,
    log_offset,
    raw,
    read_reply,
    request_head,
    rss_mb,
)
from worker.delivery import MAX_REQUEST_BYTES
from worker.server import REQUEST_SECONDS as READ_SECONDS

KNOWN_INTENTS = [
    "allocation",
    "batch",
    "cash-balancer",
    "close-all",
    "collect-market-data",
    "ping",
    "summary",
    "trade-reconciliation",
]
# Derandomized and without a stored database: CI runs the same examples every time.
BATCH = settings(
    max_examples=75,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- what is thrown -----------------------------------------------------------------------------

ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "\u2028",
    "\ufeff",
    "a\u0301",
    "\U0001f600",
    "\\",
    '"',
    "../..",
    "${jndi:x}",
    "%s%n",
    "'; DROP",
    "<script>",
    "\r\n",
    "x" * 3000,
]
ODD_IDS = [
    ".",
    "..",
    "...",
    "__x__",
    "__.__",
    "X/events/forged",
    "/",
    "a//b",
    "",
    "7" * 2000,
    "7" * 100,
    "7" * 101,
    "é",
    "a b",
    "paper:x",
    "live:x",
    ":",
    "-",
    "0",
]
ODD_TIMES = [
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "2026-11-23T10:00:00",
    "2026-11-23 10:00:00+00:00",
    "2026-11-23T10:00:00.123456789Z",
    "2026-13-45T99:99:99Z",
    "2026-11-23T10:00:00+24:00",
    "yesterday",
    "",
    "Z",
]
HUGE_NUMBERS = [10**12, 10**30, -(10**30), 2**63, 2**64, 10**400, 2592000, 2592001, 0, -1]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(HUGE_NUMBERS)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(ODD_STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def mostly(usual: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` three times in four: enough deliveries get past the envelope to the pipeline."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda u: usual if u else odd)


fresh_ids = st.builds(lambda: unique("p"))
ids = mostly(fresh_ids, st.sampled_from(ODD_IDS) | st.text(max_size=70))
times = st.sampled_from(ODD_TIMES) | st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [None, UTC, timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=5))]
    ),
).map(datetime.isoformat)


def harmless(message: dict[str, Any]) -> dict[str, Any]:
    """Nothing that would start a gateway: only ping may run, and never with `gateway`."""
    if message.get("intent") in KNOWN_INTENTS and message["intent"] != "ping":
        message["bogus"] = 1
    if isinstance(message.get("params"), dict) and message["params"].get("gateway"):
        message["params"]["gateway"] = False
    return message


intent_messages = st.fixed_dictionaries(
    {"intent": st.just("ping") | st.sampled_from(KNOWN_INTENTS) | json_values},
    optional={
        "params": st.just({}) | st.just({"gateway": False}) | json_values,
        "id": ids | json_values,
        "tradingMode": st.sampled_from(["paper", "live", "Paper", ""]) | json_values,
        "ttlSeconds": st.integers() | st.sampled_from(HUGE_NUMBERS) | json_values,
        "expiresAt": times | json_values,
        "requestedBy": st.text(max_size=250) | st.sampled_from(ODD_STRINGS) | json_values,
        "bogus": json_values,
    },
).map(harmless)


def deep(depth: int, inside: str) -> bytes:
    opening, closing = ("[", "]") if inside == "array" else ('{"a":', "}")
    return f'{{"intent":"ping","params":{opening * depth}1{closing * depth}}}'.encode()


# Pings that mostly pass the contract: they run, expire, or belong to the other mode.
pings = st.fixed_dictionaries(
    {"intent": st.just("ping")},
    optional={
        "params": st.sampled_from([{}, {"gateway": False}]),
        "id": fresh_ids,
        "tradingMode": st.sampled_from(["paper", "paper", "live"]),
        "ttlSeconds": st.integers(1, 2592000),
        "expiresAt": times,
        "requestedBy": st.text(max_size=200) | st.sampled_from(ODD_STRINGS),
    },
)
odd_data = st.one_of(
    intent_messages.map(lambda m: json.dumps(m).encode()),
    intent_messages.map(lambda m: json.dumps(m, ensure_ascii=False).encode("utf-8", "replace")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.builds(
        deep,
        st.integers(1, 3000) | st.sampled_from([990, 995, 999, 1000]),
        st.sampled_from(["array", "object"]),
    ),
    st.sampled_from([b"", b"null", b"{}", b"[]", b'"ping"', b"\xff\xfe", b'{"intent":"ping"'])
    | st.sampled_from(
        [b'{"intent":"ping","ttlSeconds":1' + b"0" * n + b"}" for n in (12, 30, 400, 5000)]
    ),
)
message_data = st.one_of(pings.map(lambda m: json.dumps(m).encode()), odd_data)
attributes = st.dictionaries(
    st.sampled_from(
        [
            "tradingMode",
            "id",
            "intent",
            "CloudPubSubDeadLetterSourceDeliveryCount",
            "CloudPubSubDeadLetterSourceTopicPublishTime",
        ]
    )
    | st.text(max_size=10),
    st.sampled_from(["paper", "live"]) | ids | json_values,
    max_size=4,
)
paths = st.sampled_from(["/", "/", "/", "/dead-letter", "/dead-letter/", "/anything"])


def header_safe(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    safe = "".join(c for c in text if 32 <= ord(c) < 127)
    return safe.strip()[:500]


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in `one_in` draws (hypothesis favours 0 and False when it generates)."""
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@st.composite
def wrapped_pushes(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    snake = draw(st.booleans())

    def key(camel: str, snake_case: str) -> str:
        return snake_case if snake else camel

    message: dict[str, Any] = {}
    if not rarely(draw, 10):
        message[key("messageId", "message_id")] = draw(mostly(ids, json_values))
    if not rarely(draw, 10):
        data = b64(draw(message_data))
        message["data"] = draw(
            mostly(st.just(data), st.sampled_from(["%%%", "", "e30"]) | json_values)
        )
    if draw(st.booleans()):
        message["attributes"] = draw(mostly(attributes, json_values))
    if draw(st.booleans()):
        message[key("publishTime", "publish_time")] = draw(mostly(times, json_values))
    if rarely(draw, 10):
        message = draw(json_values)
    body: dict[str, Any] = {"message": message}
    if draw(st.booleans()):
        body[key("deliveryAttempt", "delivery_attempt")] = draw(st.integers() | json_values)
    if draw(st.booleans()):
        body["subscription"] = draw(st.text(max_size=40) | json_values)
    if draw(st.booleans()):
        body[draw(st.text(max_size=10))] = draw(json_values)
    return draw(paths), {"Content-Type": "application/json"}, json.dumps(body).encode()


@st.composite
def unwrapped_pushes(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    headers = {"X-Goog-Pubsub-Message-Id": header_safe(draw(ids))}
    if draw(st.booleans()):
        headers["X-Goog-Pubsub-Publish-Time"] = header_safe(draw(times))
    if draw(st.booleans()):
        headers["X-Goog-Pubsub-Subscription-Name"] = header_safe(draw(st.text(max_size=40)))
    for name, value in draw(attributes).items():
        if name.isascii() and name.isalnum():
            headers[name] = header_safe(value)
    return draw(paths), headers, draw(message_data)


@st.composite
def cloudevents(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    message_id = draw(ids)
    message: dict[str, Any] = {"data": b64(draw(message_data)), "messageId": message_id}
    if draw(st.booleans()):
        message["publishTime"] = draw(times | json_values)
    if draw(st.booleans()):
        message["attributes"] = draw(attributes)
    if rarely(draw, 5):
        del message["messageId"]
    data: Any = draw(st.just({"message": message, "subscription": "s"}) | json_values)
    event = {
        "specversion": draw(st.sampled_from(["1.0", "1.0", "0.3", "2.0"])),
        "id": header_safe(draw(ids)) or "e",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/x",
    }
    for attribute in draw(st.lists(st.sampled_from(["id", "type", "source"]), max_size=1)):
        del event[attribute]
    if draw(st.booleans()):  # binary mode: attributes as ce- headers, data as the body
        headers = {f"ce-{k}": v for k, v in event.items()}
        headers["Content-Type"] = "application/json"
        return draw(paths), headers, json.dumps(data).encode()
    structured = {**event, "datacontenttype": "application/json", "data": data}
    if draw(st.booleans()):
        structured["data_base64"] = draw(st.sampled_from(["%%", b64(b"{}")]))
    return (
        draw(paths),
        {"Content-Type": "application/cloudevents+json"},
        json.dumps(structured).encode(),
    )


@st.composite
def anything(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    """Bodies and headers of any kind, as a client that is not Pub/Sub could send."""
    headers = {
        name: header_safe(value)
        for name, value in draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "Content-Type",
                        "ce-specversion",
                        "ce-id",
                        "ce-type",
                        "ce-source",
                        "X-Goog-Pubsub-Message-Id",
                        "X-Cloud-Trace-Context",
                        "Content-Encoding",
                        "Expect",
                    ]
                ),
                st.sampled_from(
                    [
                        "application/json",
                        "application/cloudevents+json",
                        "1.0",
                        "gzip",
                        "100-continue",
                    ]
                )
                | st.text(max_size=30),
                max_size=4,
            )
        ).items()
    }
    body = draw(
        st.binary(max_size=300) | message_data | json_values.map(lambda v: json.dumps(v).encode())
    )
    return draw(paths), headers, body


# -- sending ------------------------------------------------------------------------------------


def send(stack, path: str, headers: dict[str, str], body: bytes, chunked: bool) -> Reply:
    if chunked:
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 97]), body[i : i + 97])
            for i in range(0, len(body), 97)
        )
        head = request_head({**headers, "Transfer-Encoding": "chunked"}, path=path)
        return raw(stack, head + chunks + b"0\r\n\r\n")
    return raw(stack, request_head({**headers, "Content-Length": str(len(body))}, path=path) + body)


ANSWERED = {"succeeded", "failed", "rejected", "expired"}


def check_answer(reply: Reply) -> None:
    assert reply.status < 500, (reply.status, reply.body[:500])
    if reply.headers.get("content-type", "").startswith("application/json"):
        body = reply.json()
        if reply.status == 400:
            assert body["error"] in STABLE_400, body
        elif reply.status == 200:
            assert body.get("status") in ANSWERED or "ignored" in body, body
        else:
            assert reply.status in (405, 429), (reply.status, body)
    else:  # gunicorn's own answer to HTTP it cannot parse
        assert 400 <= reply.status < 500, (reply.status, reply.body[:300])


def outcome(reply: Reply) -> str:
    """What happened, for hypothesis' statistics (`--hypothesis-show-statistics`)."""
    try:
        body = reply.json()
    except ValueError:
        return "not JSON"
    return str(body.get("status") or ("ignored" if "ignored" in body else body.get("error")))


@pytest.fixture
def batch(stack, db):
    """Around one batch of examples: afterwards the worker answers a ping, nothing crashed, and
    Firestore holds nothing but intent records and their events."""
    before, offset = firestore_shape(db), log_offset(stack)
    yield
    status, body = post(stack, envelope({"intent": "ping", "id": unique("after")}))
    assert (status, body["status"]) == (200, "succeeded"), body
    assert crashes(log_lines(stack, offset)) == []
    assert_nothing_outside_intent_records(db, before)


# What each batch must have reached at least once: a generator that only ever produced 400s
# would prove nothing about the pipeline.
REACHED = {
    "wrapped push": {"200 succeeded", "200 rejected", "400"},
    "unwrapped push": {"200 succeeded", "200 rejected", "400"},
    "cloudevents": {"200 succeeded", "200 rejected", "400"},
    "anything": {"400"},
}


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("wrapped push", wrapped_pushes()),
        ("unwrapped push", unwrapped_pushes()),
        ("cloudevents", cloudevents()),
        ("anything", anything()),
    ],
    ids=list(REACHED),
)
def test_any_delivery_gets_an_answer_not_a_crash(stack, batch, name, shape):
    seen: Counter[str] = Counter()

    @BATCH
    @given(shape, st.integers(0, 7))
    def throw(request: tuple[str, dict[str, str], bytes], how: int) -> None:
        path, headers, body = request
        reply = send(stack, path, headers, body, chunked=how == 0)
        check_answer(reply)
        seen[f"{reply.status} {outcome(reply)}" if reply.status == 200 else str(reply.status)] += 1

    throw()
    print(f"{name}: {dict(seen)}")
    assert REACHED[name] <= set(seen), seen


# -- bodies: broken, huge, slow -------------------------------------------------------------------

BROKEN_CHUNKS = {
    "size not hex": b"ZZ\r\nabc\r\n0\r\n\r\n",
    "size larger than the data": b"10\r\nabc\r\n0\r\n\r\n",
    "no terminating chunk": b"3\r\nabc\r\n",
    "negative size": b"-3\r\nabc\r\n0\r\n\r\n",
    "huge size": b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "bad extension": b"3;\x00\r\nabc\r\n0\r\n\r\n",
    "missing CRLF after data": b"3\r\nabcX0\r\n\r\n",
    "bare LF": b"3\nabc\n0\n\n",
}


@pytest.mark.parametrize("chunks", BROKEN_CHUNKS.values(), ids=list(BROKEN_CHUNKS))
def test_an_invalid_chunked_body_is_a_400(stack, chunks):
    head = request_head({"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with connect(stack) as sock:
        sock.sendall(head + chunks)
        sock.shutdown(socket.SHUT_WR)  # nothing more is coming
        reply = read_reply(sock)
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    if reply.headers.get("content-type", "").startswith("application/json"):
        assert_stable_400(reply)
    assert post(stack, envelope({"intent": "ping"}))[0] == 200


def test_a_valid_chunked_delivery_is_read(stack, results):
    intent_id = unique("chunked")
    body = json.dumps(envelope({"intent": "ping", "id": intent_id})).encode()
    reply = send(stack, "/", {"Content-Type": "application/json"}, body, chunked=True)
    assert (reply.status, reply.json()["status"]) == (200, "succeeded")
    assert [r["status"] for r in results.all_for(intent_id, settle=1)] == ["succeeded"]


def send_body(sock: socket.socket, size: int, sent: list[int]) -> None:
    block = b"[" * (1024 * 1024)
    try:
        while sent[0] < size:
            sock.sendall(block)
            sent[0] += len(block)
    except OSError:
        pass  # the worker closed the connection: what it should do


@pytest.mark.parametrize("declared", [True, False], ids=["Content-Length", "chunked"])
def test_a_100_mib_body_is_refused_without_being_held_in_memory(stack, declared):
    size = 100 * 1024 * 1024
    pid = gunicorn_worker_pid(stack)
    assert post(stack, envelope({"intent": "ping"}))[0] == 200  # warm: every module loaded
    before = rss_mb(pid)
    if declared:
        head = request_head({"Content-Type": "application/json", "Content-Length": str(size)})
        sent = [0]
        with connect(stack) as sock:
            sock.sendall(head)
            sender = threading.Thread(target=send_body, args=(sock, size, sent), daemon=True)
            sender.start()
            reply = read_reply(sock)
            with contextlib.suppress(OSError):  # the worker may have reset it already
                sock.shutdown(socket.SHUT_RDWR)
            sender.join(30)
        # The answer came without the body being read: most of it was never taken.
        assert sent[0] < size / 2, f"{sent[0] / 2**20:.0f} MiB were taken"
    else:
        head = request_head({"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        chunk = b"100000\r\n" + b"[" * 0x100000 + b"\r\n"
        with connect(stack) as sock:
            sock.sendall(head)
            try:
                for _ in range(100):
                    sock.sendall(chunk)
            except OSError:
                pass
            reply = read_reply(sock)
    assert_stable_400(reply)
    assert reply.json()["error"] == "request body too large"
    grown = rss_mb(pid) - before
    print(f"worker RSS {before:.0f} MB -> {before + grown:.0f} MB")
    assert gunicorn_worker_pid(stack) == pid  # the same worker process, not a restarted one
    assert grown < (MAX_REQUEST_BYTES / 2**20) * 2 + 10, f"the worker grew by {grown:.0f} MB"
    assert post(stack, envelope({"intent": "ping"}))[0] == 200


# How a client starts a request it never finishes, and what it gets when the worker gives up on
# it: a body that cannot be read is a 400; a request whose headers never end a 408.
SLOW_CLIENTS = {
    "slow body": (  # declares 1000 bytes and sends 10
        request_head({"Content-Type": "application/json", "Content-Length": "1000"})
        + b'{"message"',
        b'{"error": "request body could not be read"}',
    ),
    "slow chunks": (
        request_head({"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        + b'a\r\n{"message"\r\n',
        b'{"error": "request body could not be read"}',
    ),
    "slow headers": (
        b"POST / HTTP/1.1\r\nHost: worker\r\nContent-Type: appl",
        b'{"error": "request not received in time"}',
    ),
}


@pytest.mark.parametrize(("start", "answer"), SLOW_CLIENTS.values(), ids=list(SLOW_CLIENTS))
def test_a_slow_client_does_not_hold_the_only_worker_thread(stack, start, answer):
    slow = connect(stack, timeout=READ_SECONDS * 4)
    try:
        slow.sendall(start)
        time.sleep(0.5)  # the worker is now reading from the slow client
        # The ping waits behind it, but the worker cuts the slow client off after REQUEST_SECONDS
        # (each socket operation of the ping may wait three times that; it takes one).
        intent_id = unique("behind-slow")
        status, body = post(
            stack, envelope({"intent": "ping", "id": intent_id}), timeout=READ_SECONDS * 3
        )
        assert (status, body["status"]) == (200, "succeeded")
        # The slow client, which never finished nor hung up, is done with.
        slow.settimeout(5)
        reply = b""
        while chunk := slow.recv(65536):
            reply += chunk
        status = b"408" if b"in time" in answer else b"400"
        assert reply.startswith(b"HTTP/1.1 " + status + b" "), reply[:200]
        assert reply.endswith(answer), reply[-200:]
    finally:
        slow.close()
