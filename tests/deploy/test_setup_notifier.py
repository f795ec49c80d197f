"""deploy/setup.sh --notifier: `publisher notify` as the Cloud Run service ib-notifier behind a
push subscription on intent-results, against the recording fake gcloud. The webhook address comes
from $NOTIFY_URL into Secret Manager on standard input only."""

from __future__ import annotations

import pytest

from tests.deploy.test_setup import DEMO, FAKE_CREDENTIALS, NUMBER, Sandbox, dry_run, find

HOOK = "https://hooks.example.test/services/NOT-A-REAL-HOOK-3k"
URL = f"https://ib-notifier-{NUMBER}.europe-west6.run.app"
EMAIL = "ib-notifier@demo-proj.iam.gserviceaccount.com"


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


def deployed(sandbox: Sandbox, *services: str) -> None:
    """What cloudbuild.yaml (and the notifier's own deploy) leave: the services, each serving."""
    sandbox.seed(resources={f"run services {s}": {"serving": f"{s}-00001-fak"} for s in services})


def test_the_dry_run_lists_the_service_its_secret_and_the_push(sandbox):
    run = sandbox.run(
        *DEMO,
        "--notifier",
        "--dry-run",
        stdin=FAKE_CREDENTIALS,
        FAKE_GCLOUD_FORBID="1",
        NOTIFY_URL=HOOK,
    )
    assert run.returncode == 0, run.stderr
    assert run.calls == [] and HOOK not in run.stdout + run.stderr
    cmds = run.shown
    (deploy,) = find(cmds, "run", "deploy", "ib-notifier")
    for flag in (
        "--no-allow-unauthenticated",
        "--max-instances=1",
        f"--service-account={EMAIL}",
        "--set-secrets=NOTIFY_URL=ib-notify-url:latest",
        "--image=europe-west6-docker.pkg.dev/demo-proj/ib-worker/ib-dashboard:latest",
    ):
        assert flag in deploy, flag
    (push,) = find(cmds, "pubsub", "subscriptions", "create", "intent-results-notifier-push")
    assert "--topic=intent-results" in push
    assert "--push-endpoint=https://ib-notifier-PROJECT_NUMBER.europe-west6.run.app/" in push
    assert f"--push-auth-service-account={EMAIL}" in push
    assert find(cmds, "secrets", "versions", "add", "ib-notify-url", "--data-file=-")
    assert find(cmds, "run", "services", "add-iam-policy-binding", "ib-notifier")


def test_without_the_option_nothing_of_it(sandbox):
    cmds = dry_run(sandbox).shown
    assert not [c for c in cmds if any("notif" in a for a in c)]


def test_setup_stores_the_address_on_stdin_waits_for_the_image_then_deploys(sandbox):
    first = sandbox.run(*DEMO, "--notifier", stdin=FAKE_CREDENTIALS, NOTIFY_URL=HOOK)
    assert first.returncode == 0, first.stdout + first.stderr
    (added,) = [
        c for c in first.calls if c["argv"][:4] == ["secrets", "versions", "add", "ib-notify-url"]
    ]
    assert added["stdin"] == HOOK
    assert not [c for c in first.calls if any(HOOK in a for a in c["argv"])]
    assert HOOK not in first.stdout + first.stderr
    assert "wait    Cloud Run service ib-notifier" in first.stdout  # no dashboard image yet
    # The push exists from the start: until the service does, Pub/Sub retries with backoff.
    (push,) = find(
        first.changes, "pubsub", "subscriptions", "create", "intent-results-notifier-push"
    )
    assert f"--push-endpoint={URL}/" in push and f"--push-auth-token-audience={URL}" in push

    # After the first deploy of the dashboard (its image) and of the notifier itself:
    deployed(sandbox, "ib-paper", "ib-dashboard", "ib-notifier")
    second = sandbox.run(*DEMO, "--notifier", stdin="")
    assert second.returncode == 0, second.stdout + second.stderr
    assert find(second.changes, "run", "services", "add-iam-policy-binding", "ib-notifier")
    third = sandbox.run(*DEMO, "--notifier", stdin="")
    assert third.returncode == 0 and third.changes == []


def test_without_an_address_it_stops_before_the_secret_s_value_and_says_how(sandbox):
    run = sandbox.run(*DEMO, "--notifier", stdin=FAKE_CREDENTIALS)
    assert run.returncode == 2
    assert "NOTIFY_URL" in run.stderr and "not on the command line" in run.stderr
    assert not find(run.changes, "secrets", "versions", "add", "ib-notify-url")


def test_an_address_that_is_no_webhook_is_refused(sandbox):
    run = sandbox.run(*DEMO, "--notifier", stdin=FAKE_CREDENTIALS, NOTIFY_URL="ops@example.com")
    assert run.returncode == 2 and "NOTIFY_URL must be" in run.stderr
    assert "ops@example.com" not in run.stdout + run.stderr


def test_not_without_the_dashboard_s_image(sandbox):
    run = sandbox.run(*DEMO, "--notifier", "--no-dashboard", "--dry-run", FAKE_GCLOUD_FORBID="1")
    assert run.returncode == 2 and "--no-dashboard" in run.stderr


def test_teardown_removes_it(sandbox):
    assert sandbox.run(*DEMO, "--notifier", stdin=FAKE_CREDENTIALS, NOTIFY_URL=HOOK).returncode == 0
    deployed(sandbox, "ib-paper", "ib-dashboard", "ib-notifier")
    assert sandbox.run(*DEMO, "--notifier", stdin="").returncode == 0
    run = sandbox.run(*DEMO, "--teardown", "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    left = [k for k in sandbox.cloud()["resources"] if "notif" in k or "notify" in k]
    assert left == []
