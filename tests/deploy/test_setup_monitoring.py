"""deploy/setup.sh --alert-email: the notification channel, the log-based metrics and the alert
policies, against the recording fake gcloud: listed by the dry run, created once, unchanged by a
second run, repaired when they drift, removed by the teardown."""

from __future__ import annotations

import json

import pytest

from deploy.cloud import monitoring
from tests.deploy.test_setup import DEMO, FAKE_CREDENTIALS, Sandbox, dry_run, find
from worker.gateway import second_factor
from worker.intents import watch

ALERTS = ("--alert-email", "ops@example.com")
POLICIES = [
    "ib-paper: failed results",
    "ib-paper: worker 5xx rate",
    "ib-paper: login waiting for approval",
    "ib-paper: no result for a scheduled job",
    "ib-worker: dead letters waiting",
]
METRICS = [
    "ib-failed-results-paper",
    "ib-silent-schedules-paper",
    "ib-watch-runs-paper",
    "ib-second-factor-paper",
]


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


def policies_made(commands: list[list[str]]) -> dict[str, dict]:
    made = {}
    for c in find(commands, "monitoring", "policies", "create"):
        (raw,) = [a.removeprefix("--policy=") for a in c if a.startswith("--policy=")]
        body = json.loads(raw)
        made[body["displayName"]] = body
    return made


def test_the_dry_run_lists_the_channel_the_metrics_and_the_policies(sandbox):
    run = dry_run(sandbox, *ALERTS)
    cmds = run.shown
    (channel,) = find(cmds, "beta", "monitoring", "channels", "create")
    assert "--type=email" in channel
    assert "--channel-labels=email_address=ops@example.com" in channel
    for name in METRICS:
        (made,) = find(cmds, "logging", "metrics", "create", name)
        (log_filter,) = [a for a in made if a.startswith("--log-filter=")]
        assert 'resource.labels.service_name="ib-paper"' in log_filter
    made = policies_made(cmds)
    assert sorted(made) == sorted(POLICIES)
    assert all(p["notificationChannels"] == ["CHANNEL"] for p in made.values())
    # What each policy watches: the failed results' counter, the worker's 5xx answers, the
    # dead-letter backlog, and silent schedules or a watch that stopped.
    filters = {t: " ".join(str(c) for c in p["conditions"]) for t, p in made.items()}
    assert "user/ib-failed-results-paper" in filters["ib-paper: failed results"]
    assert 'response_code_class=\\"5xx\\"' in json.dumps(filters["ib-paper: worker 5xx rate"])
    assert "intents-dead-letter-keep" in filters["ib-worker: dead letters waiting"]
    silent = made["ib-paper: no result for a scheduled job"]["conditions"]
    assert {next(iter(set(c) - {"displayName"})) for c in silent} == {
        "conditionThreshold",
        "conditionAbsent",
    }
    assert "monitoring.googleapis.com" in " ".join(find(cmds, "services", "enable")[0])
    for title in POLICIES:
        assert f"alert policy {title!r}" in run.stdout


def test_without_alert_email_no_monitoring_is_set_up(sandbox):
    cmds = dry_run(sandbox).shown
    assert not find(cmds, "beta", "monitoring") and not find(cmds, "monitoring")
    assert not find(cmds, "logging", "metrics")


def test_setup_creates_them_once_and_a_second_run_changes_nothing(sandbox):
    first = sandbox.run(*DEMO, *ALERTS, stdin=FAKE_CREDENTIALS)
    assert first.returncode == 0, first.stdout + first.stderr
    cloud = sandbox.cloud()["resources"]
    channels = [k for k in cloud if k.startswith("monitoring channels ")]
    assert len(channels) == 1
    channel_name = channels[0].removeprefix("monitoring channels ")
    made = {
        json.loads(v["policy"])["displayName"]: json.loads(v["policy"])
        for k, v in cloud.items()
        if k.startswith("monitoring policies ")
    }
    assert sorted(made) == sorted(POLICIES)
    # Created after the channel: each names the real channel, not a placeholder.
    assert all(p["notificationChannels"] == [channel_name] for p in made.values())
    assert all(f"logging metrics {m}" in cloud for m in METRICS)

    second = sandbox.run(*DEMO, *ALERTS, stdin="")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.changes == [], "a second run changes nothing"


def test_a_new_address_and_a_changed_policy_are_updated_in_place(sandbox):
    assert sandbox.run(*DEMO, *ALERTS, stdin=FAKE_CREDENTIALS).returncode == 0
    state = sandbox.cloud()
    (key,) = [k for k, v in state["resources"].items() if "ib-paper: failed results" in str(v)]
    body = json.loads(state["resources"][key]["policy"])
    body["conditions"][0]["conditionThreshold"]["filter"] = 'metric.type="something/else"'
    state["resources"][key]["policy"] = json.dumps(body)
    sandbox.state.write_text(json.dumps(state))

    run = sandbox.run(*DEMO, "--alert-email", "oncall@example.com", stdin="")
    assert run.returncode == 0, run.stdout + run.stderr
    changed = run.changes
    (label,) = find(changed, "beta", "monitoring", "channels", "update")
    assert label[-1] == "--update-channel-labels=email_address=oncall@example.com"
    (updated,) = find(changed, "monitoring", "policies", "update")
    assert updated[3] == key.removeprefix("monitoring policies ")
    assert not find(changed, "monitoring", "policies", "create")
    again = sandbox.run(*DEMO, "--alert-email", "oncall@example.com", stdin="")
    assert again.changes == []


def test_teardown_removes_the_policies_metrics_and_channel(sandbox):
    assert sandbox.run(*DEMO, *ALERTS, stdin=FAKE_CREDENTIALS).returncode == 0
    run = sandbox.run(*DEMO, "--teardown", "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    left = [k for k in sandbox.cloud()["resources"] if "monitoring" in k or "logging" in k]
    assert left == []
    removed = run.changes
    assert len(find(removed, "monitoring", "policies", "delete")) == len(POLICIES)
    # Policies go before the channel they name.
    order = [" ".join(c[:3]) for c in removed]
    assert order.index("beta monitoring channels") > max(
        i for i, c in enumerate(order) if c == "monitoring policies delete"
    )


def test_the_dry_run_of_a_teardown_lists_them(sandbox):
    cmds = dry_run(sandbox, "--teardown").shown
    assert find(cmds, "beta", "monitoring", "channels", "delete")
    assert len(find(cmds, "monitoring", "policies", "delete")) == len(POLICIES)
    for name in METRICS:
        assert find(cmds, "logging", "metrics", "delete", name)


@pytest.mark.parametrize("address", ["not-an-email", "a@b", "ops@example.com; rm -rf /"])
def test_a_bad_address_is_refused_before_anything(sandbox, address):
    run = sandbox.run(*DEMO, "--alert-email", address, "--dry-run", FAKE_GCLOUD_FORBID="1")
    assert run.returncode == 2 and "--alert-email" in run.stderr and run.calls == []


def test_the_log_filters_match_the_worker_s_log_fields():
    """The counters read fields the worker writes (worker/logs.py puts `fields` at the top)."""
    conditions = {m.name: m.condition for m in monitoring.metrics("live")}
    assert conditions["ib-failed-results-live"] == 'jsonPayload.status="failed"'
    assert conditions["ib-silent-schedules-live"] == 'jsonPayload.code="schedule-silent"'
    assert conditions["ib-second-factor-live"] == f'jsonPayload.code="{second_factor.CODE}"'
    assert monitoring.SILENT_CODE == watch.SILENT_CODE
    assert monitoring.log_filter("live", "x").count('"ib-live"') == 1
