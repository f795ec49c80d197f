"""The notifier as a push endpoint (`notify --serve`, what runs on Cloud Run behind a push
subscription): pushes of results to a local webhook receiver, each acknowledged once handled;
on the stack, a real push subscription of the emulator delivers to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client

from deploy.processes import free_port
from deploy.stack import ROOT
from publisher.notify import Notifier
from publisher.notify_serve import create_app, from_env
from tests.publisher import webhook_receiver
from tests.publisher.test_notify import FAST, result
from tests.publisher.test_notify_stack import Notifier as Child
from tests.support import envelope, publish, unique
from worker.alert_send import WebhookSender
from worker.names import RESULTS_TOPIC


@pytest.fixture
def receiver():
    started = webhook_receiver.start()
    yield started
    webhook_receiver.stop(started)


def client(url: str, lines: list[str]) -> Client:
    notifier = Notifier(WebhookSender(url, "json", FAST), say=lines.append)
    return Client(create_app(notifier))


def test_a_pushed_failed_result_is_one_post_and_a_repush_none(receiver):
    web = client(receiver.url, [])
    body = envelope(result(), message_id="m-7")
    assert web.post("/", json=body).status_code == 204
    assert web.post("/", json=body).status_code == 204  # Pub/Sub delivered it twice
    assert web.post("/", json=envelope(result("succeeded", id="ok"))).status_code == 204
    (post,) = receiver.posts
    assert json.loads(post.body)["id"] == "alloc-1"


def test_a_receiver_down_is_logged_and_the_push_still_acknowledged():
    lines: list[str] = []
    web = client(f"http://127.0.0.1:{free_port()}/hook", lines)
    assert web.post("/", json=envelope(result())).status_code == 204
    assert any("not sent" in line and "alloc-1" in line for line in lines)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"message": {"data": "%%%"}}', json.dumps(envelope("[1, 2]")).encode()],
)
def test_what_is_no_result_is_acknowledged_and_logged(receiver, body):
    lines: list[str] = []
    answer = client(receiver.url, lines).post("/", data=body, content_type="application/json")
    assert answer.status_code == 204 and receiver.posts == [] and lines


@given(st.binary(max_size=300))
def test_any_body_is_acknowledged_never_an_error(body):
    lines: list[str] = []
    sender = WebhookSender("http://127.0.0.1:9/h", "json", FAST)
    web = Client(create_app(Notifier(sender, say=lines.append)))
    assert web.post("/", data=body, content_type="application/json").status_code == 204
    assert len(lines) <= 1  # at most one line saying why it was let go


def test_only_post_takes_pushes(receiver):
    web = client(receiver.url, [])
    assert web.get("/").status_code == 200
    assert web.put("/").status_code == 405


def test_from_env_needs_the_url():
    with pytest.raises(SystemExit, match="NOTIFY_URL"):
        from_env({})


def test_an_emulator_push_subscription_delivers_to_the_service(stack):
    from google.cloud import pubsub_v1

    receiver = webhook_receiver.start()
    port = free_port()
    # The notifier as Cloud Run would run it: serving pushes, no subscription of its own.
    child = Child(stack, "--serve", "--port", str(port), "--to", receiver.url)
    subscriber = pubsub_v1.SubscriberClient()
    name = stack.subscription(unique("notify-push"))
    try:
        child.wait_for("serving pushes")
        subscriber.create_subscription(
            request={
                "name": name,
                "topic": stack.topic(RESULTS_TOPIC),
                "push_config": {"push_endpoint": f"http://127.0.0.1:{port}/"},
            }
        )
        rejected = unique("bad")
        publish(stack, {"intent": "no-such-intent", "id": rejected})
        child.wait_for(f"sent: rejected paper {rejected}")
        (post,) = [p for p in receiver.wait_for(1) if rejected in p.body.decode()]
        assert json.loads(post.body)["status"] == "rejected"
    finally:
        subscriber.delete_subscription(subscription=name)
        child.stop()
        webhook_receiver.stop(receiver)
    assert child.process.poll() is not None


def test_serve_runs_from_the_cli_without_pubsub(tmp_path):
    """--serve needs no Pub/Sub access (Cloud Run's push does the pulling)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "notify",
            "--serve",
            "--port",
            str(port),
            "--to",
            "http://127.0.0.1:9/hook",
        ],
        cwd=ROOT,
        env={**env, "GOOGLE_CLOUD_PROJECT": ""},
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "serving pushes" in first
    finally:
        process.terminate()
        process.wait(timeout=30)
