"""The HTTP entry (worker/main.py) in the app worker/server.py serves, with a fake pipeline.

In the style of the Cloud Run Pub/Sub sample's tests: a Flask test client, no network. What the
pipeline decides is tested in test_pipeline_decisions.py; the real server in test_http_entry.py.
"""

from __future__ import annotations

import base64
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from tests.support import envelope
from tests.worker.hostile import STABLE_400
from worker.delivery import MAX_REQUEST_BYTES, Delivery
from worker.pipeline import Answer


@dataclass
class FakePipeline:
    """Records what the entry hands it and answers as told."""

    answer: Answer = field(default_factory=lambda: Answer(200, {"status": "succeeded"}))
    calls: list[tuple[str, Delivery]] = field(default_factory=list)

    def handle(self, delivery: Delivery) -> Answer:
        self.calls.append(("handle", delivery))
        return self.answer

    def handle_dead_letter(self, delivery: Delivery) -> Answer:
        self.calls.append(("dead-letter", delivery))
        return self.answer


@pytest.fixture(scope="module")
def app():
    from worker import server

    return server.build_app()


@pytest.fixture
def fake(app, monkeypatch) -> FakePipeline:
    """The pipeline of the module functions-framework loaded from worker/main.py (by path, so
    it is not `worker.main`), replaced by a fake."""
    handle = inspect.unwrap(app.view_functions["run"])
    pipeline = FakePipeline()
    monkeypatch.setitem(handle.__globals__, "_pipeline", lambda: pipeline)
    return pipeline


@pytest.fixture
def client(app, fake):
    return app.test_client()


class Stream:
    """A request body of `size` bytes, read the way gunicorn's reader reads (all that is asked
    for, unless the body ends), that counts what was read of it, or breaks off."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.size, self.fail_after, self.read_bytes = size, fail_after, 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.read_bytes
        n = left if n is None or n < 0 else min(n, left)
        if self.fail_after is not None and self.read_bytes + n > self.fail_after:
            raise OSError("connection broken mid-body")  # gunicorn raises alike (NoMoreData...)
        self.read_bytes += n
        return b"{" * n


def raw_post(client, stream: Stream, length: int | None, path: str = "/"):
    """POST a streamed body; without `length`, as a server that terminates the input (chunked)
    presents it."""
    environ: dict[str, Any] = {"wsgi.input": stream}
    if length is None:
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return client.post(path, environ_overrides=environ, content_type="application/json")


def push(message_id: str = "1001", data: bytes = b'{"intent":"ping"}') -> dict[str, Any]:
    body = envelope(data, {"intent": "ping"})
    body["message"]["messageId"] = message_id
    return body


def assert_stable_400(response) -> None:
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"] in STABLE_400, body


# -- methods and answers ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_only_post_is_a_delivery(client, fake, method):
    response = client.open("/", method=method, json=push())
    assert response.status_code == 405
    assert response.get_json() == {"error": "POST a Pub/Sub push or a CloudEvent"}
    assert fake.calls == []


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, {"id": "a", "status": "succeeded", "resultMessageId": "7"}),
        Answer(200, {"ignored": "for trading mode live"}),
        Answer(429, {"id": "a", "status": "busy", "retryable": True}),
        Answer(503, {"error": "Firestore did not answer", "retryable": True}),
    ],
)
def test_the_pipeline_answer_is_the_http_answer(client, fake, answer):
    fake.answer = answer
    response = client.post("/", json=push())
    assert (response.status_code, response.get_json()) == (answer.status, answer.body)
    assert response.mimetype == "application/json"


def test_a_push_reaches_the_pipeline_decoded(client, fake):
    response = client.post("/", json=push("4242", b'{"intent":"ping","id":"x"}'))
    assert response.status_code == 200
    [(route, delivery)] = fake.calls
    assert route == "handle"
    assert (delivery.message_id, delivery.data) == ("4242", b'{"intent":"ping","id":"x"}')
    assert delivery.attributes == {"intent": "ping"}


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/", "handle"),
        ("/dead-letter", "dead-letter"),
        ("/dead-letter/", "dead-letter"),
        ("/dead-letters", "handle"),
        ("/x/dead-letter", "handle"),
        ("/anything", "handle"),
    ],
)
def test_dead_letter_pushes_go_to_their_own_handler(client, fake, path, route):
    assert client.post(path, json=push()).status_code == 200
    assert [r for r, _ in fake.calls] == [route]


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_cloudevents_reach_the_pipeline(client, fake, mode):
    message = {"data": base64.b64encode(b"{}").decode(), "messageId": "77"}
    event = CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//x", "id": "77"},
        {"message": message, "subscription": "projects/p/subscriptions/s"},
    )
    headers, body = (to_binary if mode == "binary" else to_structured)(event)
    assert client.post("/", headers=dict(headers), data=body).status_code == 200
    assert fake.calls[0][1].shape == f"cloudevent-{mode}"


# -- 400: not a delivery ------------------------------------------------------------------------

NOT_DELIVERIES = {
    "empty": (b"", {}),
    "not json": (b"hello", {"Content-Type": "text/plain"}),
    "json array": (b"[1, 2]", {}),
    "no message": (json.dumps({"hello": "world"}).encode(), {}),
    "no message id": (json.dumps({"message": {"data": "e30="}}).encode(), {}),
    "deep json": (b"[" * 100_000 + b"]" * 100_000, {}),
    "bad utf-8": (b"\xff\xfe{", {}),
    "forged id": (json.dumps(push("X/events/forged")).encode(), {}),
    "slashes": (json.dumps(push("//a//b/")).encode(), {}),
    "empty id": (json.dumps(push("")).encode(), {}),
    "2000-char id": (json.dumps(push("7" * 2000)).encode(), {}),
    "numeric id": (json.dumps({"message": {"messageId": 12, "data": ""}}).encode(), {}),
    "unwrapped bad id": (b"{}", {"X-Goog-Pubsub-Message-Id": "a/b"}),
    "cloudevent without id": (b"{}", {"ce-specversion": "1.0", "ce-type": "t"}),
    "cloudevent deep data": (
        b"[" * 100_000,
        {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "s", "ce-id": "1"},
    ),
    "structured deep": (b"[" * 100_000, {"Content-Type": "application/cloudevents+json"}),
}


@pytest.mark.parametrize(("body", "headers"), NOT_DELIVERIES.values(), ids=list(NOT_DELIVERIES))
def test_not_a_delivery_is_a_short_stable_400(client, fake, body, headers):
    response = client.post("/", data=body, headers={"Content-Type": "application/json", **headers})
    assert_stable_400(response)
    text = response.get_data(as_text=True)
    for library_words in ("Error(", "Exception", "recursion", "codec", "line 1", "Traceback"):
        assert library_words not in text
    assert fake.calls == []


# -- body limits --------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_unread(client, fake):
    body = Stream(100 * 1024 * 1024)
    response = raw_post(client, body, length=body.size)
    assert_stable_400(response)
    assert response.get_json()["error"] == "request body too large"
    assert body.read_bytes == 0  # neither the entry nor anything after it read the body
    assert fake.calls == []


def test_an_undeclared_body_is_read_only_up_to_the_limit(client, fake):
    body = Stream(100 * 1024 * 1024)
    response = raw_post(client, body, length=None)
    assert response.get_json() == {"error": "request body too large"}
    assert body.read_bytes <= MAX_REQUEST_BYTES + 64 * 1024
    assert fake.calls == []


def test_a_body_at_the_limit_is_read(client, fake):
    data = json.dumps(push()).encode()
    padded = data[:-1] + b" " * (MAX_REQUEST_BYTES - len(data)) + b"}"
    response = client.post("/", data=padded, content_type="application/json")
    assert response.status_code == 200
    assert len(fake.calls) == 1


def test_a_body_that_breaks_off_is_a_400(client, fake):
    body = Stream(10_000, fail_after=10)
    response = raw_post(client, body, length=None)
    assert response.get_json() == {"error": "request body could not be read"}
    assert fake.calls == []
