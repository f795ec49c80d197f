"""`python -m publisher notify` on the local stack, posting to a local webhook receiver: one post
for a failed allocation and a rejected intent, none for a succeeded ping, one for a failed result
delivered twice; a receiver that is down is retried, then logged."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from deploy.processes import free_port
from deploy.stack import ROOT
from tests.publisher import webhook_receiver
from tests.support import publish, unique
from worker.names import RESULTS_TOPIC

WAIT = 120  # bounds a failure only


class Notifier:
    """The notifier as a child process; its log lines read as they come."""

    def __init__(self, stack, *args: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "publisher", "notify", "--verbose", *args],
            cwd=ROOT,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **stack.client_env()},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, needle: str) -> str:
        for line in self.seen:
            if needle in line:
                return line
        while True:
            try:
                line = self.lines.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"the notifier never logged {needle!r}: {self.seen}") from None
            self.seen.append(line)
            if needle in line:
                return line

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def notifier(stack, *args: str) -> Iterator[Notifier]:
    child = Notifier(stack, "--subscription", unique("notify"), *args)
    try:
        child.wait_for("following")
        yield child
    finally:
        child.stop()
    assert child.process.poll() is not None


def republish(stack, result: dict) -> None:
    """A result published a second time (as Pub/Sub may deliver it twice)."""
    from google.cloud import pubsub_v1

    data = json.dumps(result).encode()
    pubsub_v1.PublisherClient().publish(stack.topic(RESULTS_TOPIC), data).result(timeout=30)


def test_one_post_per_failed_or_rejected_result_none_for_a_success(stack, results):
    receiver = webhook_receiver.start()
    try:
        with notifier(stack, "--to", receiver.url, "--dashboard", "http://dash.test") as child:
            failed, rejected, ping = unique("alloc"), unique("bad"), unique("ping")
            publish(
                stack,
                {"intent": "allocation", "id": failed, "params": {"strategies": ["moonshot"]}},
            )
            publish(stack, {"intent": "no-such-intent", "id": rejected})
            child.wait_for(f"sent: failed paper {failed}")
            child.wait_for(f"sent: rejected paper {rejected}")
            republish(stack, results.for_id(failed, timeout=WAIT))  # delivered twice
            child.wait_for(f"duplicate: failed paper {failed}")
            publish(stack, {"intent": "ping", "id": ping})
            child.wait_for(f"ignored: succeeded paper {ping}")
        bodies = [json.loads(p.body) for p in receiver.posts]
        assert sorted(b["id"] for b in bodies) == sorted([failed, rejected])
        told = {b["id"]: b for b in bodies}
        assert told[rejected]["status"] == "rejected" and rejected in told[rejected]["text"]
        assert told[failed]["link"] == f"http://dash.test/intents/paper/{failed}"
    finally:
        webhook_receiver.stop(receiver)


def test_a_receiver_that_is_down_is_retried_then_logged(stack):
    down = f"http://127.0.0.1:{free_port()}/hook-secret"
    with notifier(stack, "--to", down, "--retries", "2", "--backoff", "0.1") as child:
        failed = unique("alloc")
        publish(
            stack, {"intent": "allocation", "id": failed, "params": {"strategies": ["moonshot"]}}
        )
        line = child.wait_for(f"not sent: failed paper {failed}")
        assert "unreachable after 3 attempts" in line and "hook-secret" not in line
