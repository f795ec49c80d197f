"""`python -m publisher` as a person runs it, against the local stack's worker."""

from __future__ import annotations

import argparse
import http.server
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from google.api_core import exceptions
from hypothesis import given
from hypothesis import strategies as st

from deploy.processes import free_port
from deploy.stack import ROOT
from publisher import cli as publisher_cli
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
    from publisher import client
    from publisher.client import publish_intent, wait_for_result

    for key, value in stack.client_env().items():
        monkeypatch.setenv(key, value)
    intent_id = publish_intent("ping", requested_by="library-test")
    result = wait_for_result(intent_id, timeout=60)
    assert (result["id"], result["status"]) == (intent_id, "succeeded")
    assert result["requestedBy"] == "library-test"

    def subscribed(*args, **kwargs):
        raise AssertionError("an ended intent's result is read from its record, not awaited")

    monkeypatch.setattr(client, "ResultWaiter", subscribed)
    again = wait_for_result(intent_id, timeout=60)  # ended: straight from its Firestore record
    assert again == result


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


def lines_of(stream) -> queue.Queue:
    """The stream's lines as they come, read by a thread, so a test can wait with a deadline."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_results_follow_streams_new_results(stack):
    follower = subprocess.Popen(
        [sys.executable, "-m", "publisher", "results", "--follow", "--json", "--intent", "ping"],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **stack.client_env()},
    )
    try:
        out, err = lines_of(follower.stdout), lines_of(follower.stderr)
        assert err.get(timeout=60).startswith("listening for new results")  # subscribed
        intent_id = unique("followed")
        assert cli(stack, "publish", "ping", "--id", intent_id).returncode == 0
        assert json.loads(out.get(timeout=60))["id"] == intent_id
    finally:
        follower.terminate()
        follower.wait(timeout=10)


# -- the connection, checked before anything else --------------------------------------------

COMMANDS = [
    ["publish", "ping"],
    ["publish", "ping", "--wait"],
    ["results"],
    ["results", "--follow"],
    ["show", "abc"],
    ["holdings"],
]


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell with nothing sourced and no Google credentials anywhere."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        **extra,
    }


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=60,
        env=env,
    )


def assert_one_line(done: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: ")
    for word in words:
        assert word in done.stderr, done.stderr


def test_without_a_stack_or_credentials_every_command_says_what_to_do(tmp_path):
    for args in COMMANDS:
        done = run_cli(bare_env(tmp_path), *args)
        assert_one_line(
            done,
            4,
            "no local stack and no Google credentials",
            "start `make up` and `set -a; . .devstack/env; set +a`",
            "`gcloud auth application-default login` and set GOOGLE_CLOUD_PROJECT",
        )
    # schedules apply goes to Cloud Scheduler itself: no credentials is its own one line
    done = run_cli(bare_env(tmp_path), "schedules", "apply", "--project=p", "--region=r")
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: no Google credentials for Cloud")


def test_a_stopped_stack_s_variables_name_the_emulator_that_does_not_answer(tmp_path):
    pubsub, firestore = free_port(), free_port()
    env = bare_env(
        tmp_path,
        PUBSUB_EMULATOR_HOST=f"127.0.0.1:{pubsub}",
        FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{firestore}",
        GOOGLE_CLOUD_PROJECT="local-ib",
    )
    for args, port in [
        (["publish", "ping"], pubsub),
        (["publish", "ping", "--wait"], pubsub),
        (["results"], firestore),
        (["results", "--follow"], pubsub),
        (["show", "abc"], firestore),
        (["holdings"], firestore),
    ]:
        assert_one_line(
            run_cli(env, *args),
            4,
            f"emulator at 127.0.0.1:{port} is not answering",
            "start `make up`",
        )
    # A message that is not valid is still exit 3, whatever the connection.
    assert_one_line(run_cli(env, "publish", "pong"), 3, "unknown intent 'pong'")


class TokenService(http.server.BaseHTTPRequestHandler):
    """Google's token endpoint as it answers a revoked refresh token."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"error": "invalid_grant", "error_description": "Token has been revoked."}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_refused_or_unreachable_credentials_are_one_line(monkeypatch, capsys):
    import google.auth
    from google.oauth2.credentials import Credentials

    for variable in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for token_uri, words in [
            (f"http://127.0.0.1:{server.server_port}/token", "refused (invalid_grant"),
            (f"http://127.0.0.1:{free_port()}/token", "did not answer within"),
        ]:
            # Real user credentials whose token service is on this machine.
            credentials = Credentials(
                None,
                refresh_token="test-refresh-token",
                token_uri=token_uri,
                client_id="test-client",
                client_secret="test-client-secret",
            )
            monkeypatch.setattr(google.auth, "default", lambda c=credentials, **_: (c, "p"))
            assert publisher_cli.main(["results"]) == 4
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("error: ") and words in err
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (exceptions.ServiceUnavailable("down"), "stopped answering (ServiceUnavailable)"),
        (exceptions.RetryError("gave up", None), "stopped answering (RetryError)"),
        (TimeoutError(), "stopped answering (TimeoutError)"),
        (exceptions.PermissionDenied("no\nmore"), "permission denied: no (check"),
        (exceptions.NotFound("topic projects/p/topics/intents"), "not found: topic"),
        (exceptions.FailedPrecondition("needs an index\nhttps://x"), "(FailedPrecondition): needs"),
        (exceptions.InvalidArgument("bad"), "Google Cloud refused (InvalidArgument): bad"),
    ],
)
def test_failures_after_the_check_are_one_line_too(monkeypatch, capsys, error, words):
    def fail(args):
        raise error

    monkeypatch.setattr(publisher_cli, "cmd_results", fail)
    assert publisher_cli.main(["results"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_results_header_lines_up_with_its_rows():
    row = publisher_cli._row(
        {
            "finishedAt": "2026-03-02T14:05:09.123456+00:00",
            "intent": "trade-reconciliation",
            "status": "succeeded",
            "tradingMode": "paper",
            "attempts": 2,
            "id": "x-1",
        }
    )
    assert row == "2026-03-02 14:05:09Z trade-reconciliation succeeded  paper      2  x-1"
    header = publisher_cli.RESULTS_HEADER
    starts = [header.index(word) for word in ("intent", "status", "mode", "id /")]
    assert starts == [row.index(value) for value in ("trade-", "succeeded", "paper", "x-1")]
    assert header.index("tries") + len("tries") == row.index("  x-1")  # right-aligned


@pytest.mark.parametrize("command", [["results"], ["publish", "ping"], ["show", "abc"]])
def test_ctrl_c_anywhere_is_exit_130_and_one_line(monkeypatch, capsys, command):
    from publisher import lookup

    def interrupted(args):
        raise KeyboardInterrupt

    for module, name in [(publisher_cli, "cmd_results"), (publisher_cli, "cmd_publish")]:
        monkeypatch.setattr(module, name, interrupted)
    monkeypatch.setattr(lookup, "cmd_show", interrupted)
    assert publisher_cli.main(command) == publisher_cli.EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize("limit", ["0", "-3", "1001", "x", "2.5", ""])
def test_results_limit_must_be_a_positive_whole_number(capsys, limit):
    with pytest.raises(SystemExit) as exited:
        publisher_cli.main(["results", "--limit", limit])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --limit:" in err and "Traceback" not in err


@given(st.integers(-(10**6), 10**6))
def test_results_limit_parses_exactly_1_to_1000(value):
    if 1 <= value <= 1000:
        assert publisher_cli._positive(str(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            publisher_cli._positive(str(value))
