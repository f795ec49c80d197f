"""`python -m publisher` as a person runs it, against the local stack's worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from deploy.stack import ROOT
from tests.support import unique


def cli(stack, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **stack.client_env()},
    )


def test_publish_and_wait_prints_the_result(stack):
    intent_id = unique("cli")
    done = cli(stack, "publish", "ping", "--id", intent_id, "--wait")
    assert done.returncode == 0, done.stderr
    assert f"ping {intent_id}: succeeded" in done.stdout
    as_json = cli(stack, "publish", "ping", "--param", "gateway=true", "--wait", "--json")
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["status"] == "succeeded" and result["result"]["gateway"]["accounts"]


def test_publish_summary_and_wait_shows_the_account(stack):
    done = cli(stack, "publish", "summary", "--wait")
    assert done.returncode == 0, done.stderr
    assert ": succeeded" in done.stdout and "DU1234567" in done.stdout


def test_library_publishes_and_waits_then_reads_the_record(stack, monkeypatch):
    from publisher.client import publish_intent, wait_for_result

    for key, value in stack.client_env().items():
        monkeypatch.setenv(key, value)
    intent_id = publish_intent("ping", requested_by="library-test")
    result = wait_for_result(intent_id, timeout=60)
    assert (result["id"], result["status"]) == (intent_id, "succeeded")
    assert result["requestedBy"] == "library-test"
    started = time.monotonic()
    again = wait_for_result(intent_id, timeout=60)  # ended: straight from its Firestore record
    assert again["id"] == intent_id and again["status"] == "succeeded"
    assert time.monotonic() - started < 5


def test_bad_params_are_refused_before_publishing(stack):
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    watch = stack.subscription(unique("watch"))
    subscriber.create_subscription(name=watch, topic=stack.topic("intents"))

    def waiters() -> set[str]:
        listed = subscriber.list_subscriptions(project=f"projects/{stack.options.project}")
        return {s.name for s in listed if "/results-" in s.name}

    before = waiters()
    try:
        for args, words in [
            (
                ["allocation", "--params", '{"strategies":["static-weights"],"bogusField":1}'],
                "bogusField",
            ),
            (["close-all", "--param", "dryrun=true"], "params.dryrun"),
            (["summary", "--params", "[1]"], "--params must be a JSON object"),
            (["pong"], "unknown intent 'pong'"),
            (["ping", "--id", "no spaces"], "id: 'no spaces' does not match"),
        ]:
            done = cli(stack, "publish", *args)
            assert done.returncode == 3, (args, done.stdout, done.stderr)
            assert words in done.stderr and done.stderr.count("\n") == 1
            # With --wait, the message is checked before anything is created or even looked up.
            done = subprocess.run(
                [sys.executable, "-m", "publisher", "publish", *args, "--wait"],
                cwd=ROOT,
                text=True,
                capture_output=True,
                timeout=60,
                env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")},
            )
            assert done.returncode == 3, (args, done.stdout, done.stderr)
            assert words in done.stderr and done.stderr.count("\n") == 1
        assert waiters() == before
        assert (
            subscriber.pull(subscription=watch, max_messages=10, timeout=3).received_messages == []
        )
    finally:
        subscriber.delete_subscription(subscription=watch)


def test_failed_result_and_timeout_exit_non_zero_with_one_line(stack):
    failed = cli(
        stack, "publish", "allocation", "--params", '{"strategies":["moonshot"]}', "--wait"
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().startswith("failed: unknown strategy 'moonshot'")
    late = cli(stack, "publish", "ping", "--mode", "live", "--wait", "--timeout", "3")
    assert (
        late.returncode == 2 and "timeout: no result" in late.stderr
    )  # the paper worker ignores it


def test_results_lists_recent_results_with_filters(stack):
    intent_id = unique("listed")
    assert cli(stack, "publish", "ping", "--id", intent_id, "--wait").returncode == 0
    table = cli(stack, "results", "--intent", "ping", "--limit", "50")
    assert table.returncode == 0 and intent_id in table.stdout
    assert table.stdout.splitlines()[0].split()[:3] == ["finished", "intent", "status"]
    rows = [
        json.loads(line)
        for line in cli(
            stack, "results", "--status", "failed", "--json", "--limit", "100"
        ).stdout.splitlines()
    ]
    assert rows and {r["status"] for r in rows} == {"failed"}


def test_results_follow_streams_new_results(stack):
    follower = subprocess.Popen(
        [sys.executable, "-m", "publisher", "results", "--follow", "--json", "--intent", "ping"],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        env={**os.environ, **stack.client_env()},
    )
    try:
        time.sleep(3)  # its subscription exists once it is listening
        intent_id = unique("followed")
        assert cli(stack, "publish", "ping", "--id", intent_id).returncode == 0
        line = follower.stdout.readline()
        assert json.loads(line)["id"] == intent_id
    finally:
        follower.terminate()
        follower.wait(timeout=10)
