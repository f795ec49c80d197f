"""Schedules as code, against Cloud Scheduler's client library with the service in memory."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import scheduler_v1

from deploy.stack import ROOT
from publisher import cli, schedules, schedules_apply
from publisher.schedules import MARKER, ScheduleError, Scheduler, SchedulerUnavailable, load
from tests.publisher.fake_scheduler import FakeScheduler

EXAMPLE = Path(schedules.__file__).with_name("schedules.yaml")
PARENT = "projects/p/locations/europe-west6"


def write(tmp_path: Path, jobs: list[dict], **top) -> Path:
    path = tmp_path / "schedules.yaml"
    path.write_text(json.dumps({"location": "europe-west6", **top, "jobs": jobs}))
    return path


def scheduler(fake: FakeScheduler, said: list[str] | None = None) -> Scheduler:
    return Scheduler(
        "p", "europe-west6", client=fake, say=(said if said is not None else []).append
    )


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dry run contacted something")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(schedules, "real_client", refuse)


def test_the_fake_has_the_client_library_s_methods():
    for name in ("list_jobs", "create_job", "update_job", "delete_job"):
        real = inspect.signature(getattr(scheduler_v1.CloudSchedulerClient, name))
        fake = inspect.signature(getattr(FakeScheduler, name))
        assert list(fake.parameters) == list(real.parameters), name


def test_the_dry_run_shows_every_job_and_its_next_runs_and_contacts_nothing(
    capsys, monkeypatch, no_network
):
    # As in a shell that sourced .devstack/env: emulator variables and the local project.
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "local-ib")
    _, jobs = load(EXAMPLE)
    assert cli.main(["schedules", "apply", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "project PROJECT, location europe-west6 (nothing is contacted)" in out
    for job in jobs:
        assert (
            f"{job.name}: {job.schedule} ({job.time_zone}) -> projects/PROJECT/topics/intents"
            in out
        )
        assert f"data        {job.data}" in out
    assert out.count("next runs   ") == len(jobs)
    assert out.rstrip().endswith("dry run: nothing changed")
    assert {j.body["intent"] for j in jobs} >= {"summary", "batch", "cash-balancer"}
    assert all("id" not in j.body and j.body["ttlSeconds"] for j in jobs)


def test_next_runs_are_in_each_job_s_own_time_zone(tmp_path):
    _, (zurich, new_york) = load(
        write(
            tmp_path,
            [
                {
                    "name": "z",
                    "schedule": "30 10 * * MON",
                    "intent": "ping",
                    "timeZone": "Europe/Zurich",
                },
                {
                    "name": "ny",
                    "schedule": "0 9 * * MON-FRI",
                    "intent": "ping",
                    "timeZone": "America/New_York",
                },
            ],
        )
    )
    # Friday 20 March 2026, 08:00 in New York (already on summer time), 13:00 in Zurich (not
    # until 29 March).
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    assert schedules_apply.next_runs(zurich, now) == [
        "Mon 2026-03-23 10:30 CET",
        "Mon 2026-03-30 10:30 CEST",
        "Mon 2026-04-06 10:30 CEST",
    ]
    assert schedules_apply.next_runs(new_york, now) == [
        "Fri 2026-03-20 09:00 EDT",
        "Mon 2026-03-23 09:00 EDT",
        "Tue 2026-03-24 09:00 EDT",
    ]


def test_the_dry_run_returns_at_once_in_a_shell_with_a_stopped_stack_s_variables(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(f"#!/bin/sh\necho called >> {tmp_path}/gcloud-calls\nsleep 60\n")
    gcloud.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "publisher", "schedules", "apply", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
            "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB": "http://127.0.0.1:9/",
            "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
        },
    )
    assert done.returncode == 0, done.stderr
    assert "dry run: nothing changed" in done.stdout and done.stderr == ""
    assert not (tmp_path / "gcloud-calls").exists()


@pytest.mark.parametrize(
    ("job", "words"),
    [
        ({"name": "a", "schedule": "0 25 * * *", "intent": "ping"}, "hour: 25 is outside 0-23"),
        ({"name": "a", "schedule": "0 9 * * *", "intent": "pong"}, "unknown intent 'pong'"),
        (
            {"name": "a", "schedule": "0 9 * * *", "intent": "ping", "params": {"bogus": 1}},
            "unknown field 'params.bogus'",
        ),
        (
            {"name": "a", "schedule": "0 9 * * *", "intent": "ping", "timeZone": "Mars/Base"},
            "unknown time zone 'Mars/Base'",
        ),
        ({"name": "a b", "schedule": "0 9 * * *", "intent": "ping"}, "name must be"),
        (
            {"name": "a", "schedule": "0 9 * * *", "intent": "ping", "cron": "x"},
            "unknown field cron",
        ),
        (
            {
                "name": "a",
                "schedule": "0 9 * * *",
                "intent": "batch",
                "params": {"steps": [{"intent": "close-all", "params": {"dryrun": True}}]},
            },
            "params.steps[0].params.dryrun",
        ),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, job, words, capsys):
    with pytest.raises(ScheduleError) as caught:
        load(write(tmp_path, [job]))
    assert words in str(caught.value) and "job 'a" in str(caught.value)
    path = str(write(tmp_path, [job]))
    assert cli.main(["schedules", "apply", "--dry-run", "--file", path]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_apply_creates_updates_deletes_exactly_and_then_nothing(tmp_path):
    _, old_jobs = load(
        write(
            tmp_path,
            [
                {"name": "keep", "schedule": "0 9 * * *", "intent": "ping"},
                {"name": "change", "schedule": "0 9 * * *", "intent": "ping"},
                {"name": "gone", "schedule": "0 9 * * *", "intent": "ping"},
            ],
        )
    )
    unmanaged = scheduler_v1.Job(
        name=f"{PARENT}/jobs/other", description="mine", schedule="1 1 * * *"
    )
    elsewhere = scheduler_v1.Job(name="projects/p/locations/us-east1/jobs/keep", description=MARKER)
    fake = FakeScheduler([unmanaged, elsewhere])
    scheduler(fake).apply(scheduler(fake).plan(old_jobs, prune=False))
    _, new_jobs = load(
        write(
            tmp_path,
            [
                {"name": "keep", "schedule": "0 9 * * *", "intent": "ping"},
                {"name": "change", "schedule": "30 9 * * *", "intent": "ping"},
                {
                    "name": "new",
                    "schedule": "0 10 * * MON",
                    "intent": "summary",
                    "timeZone": "Europe/Zurich",
                },
            ],
        )
    )
    fake.calls.clear()
    said: list[str] = []
    sync = scheduler(fake, said)
    plan = sync.plan(new_jobs, prune=True)
    assert (
        [j.name for j in plan.create],
        [j.name for j in plan.update],
        plan.delete,
        plan.unchanged,
    ) == (["new"], ["change"], ["gone"], ["keep"])
    sync.apply(plan)
    assert fake.calls == [
        ("list", PARENT),
        ("create", f"{PARENT}/jobs/new"),
        ("update", f"{PARENT}/jobs/change"),
        ("delete", f"{PARENT}/jobs/gone"),
    ]
    assert said[0] == f"waiting for Cloud Scheduler ({PARENT}): list the jobs ..."
    assert f"waiting for Cloud Scheduler ({PARENT}): create new ..." in said
    new = fake.jobs[f"{PARENT}/jobs/new"]
    assert (new.schedule, new.time_zone, new.description) == (
        "0 10 * * MON",
        "Europe/Zurich",
        f"{MARKER} summary",
    )
    assert new.pubsub_target.topic_name == "projects/p/topics/intents"
    assert json.loads(new.pubsub_target.data) == {
        "intent": "summary",
        "requestedBy": "scheduler/new",
        "tradingMode": "paper",
    }
    assert dict(new.pubsub_target.attributes) == {"intent": "summary", "tradingMode": "paper"}
    assert fake.jobs[f"{PARENT}/jobs/change"].schedule == "30 9 * * *"
    assert fake.jobs[f"{PARENT}/jobs/other"] == unmanaged  # not ours: never touched
    assert "projects/p/locations/us-east1/jobs/keep" in fake.jobs  # another location
    # Applying the same file again changes nothing: the jobs now match it.
    again = scheduler(fake).plan(new_jobs, prune=True)
    assert (again.create, again.update, again.delete) == ([], [], [])


def test_without_prune_nothing_is_deleted(tmp_path):
    _, jobs = load(write(tmp_path, [{"name": "a", "schedule": "0 9 * * *", "intent": "ping"}]))
    fake = FakeScheduler()
    scheduler(fake).apply(scheduler(fake).plan(jobs, prune=False))
    assert scheduler(fake).plan([], prune=False).delete == []
    assert scheduler(fake).plan([], prune=True).delete == ["a"]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            exceptions.PermissionDenied("The caller does not have permission"),
            "roles/cloudscheduler.admin",
        ),
        (
            exceptions.PermissionDenied("Cloud Scheduler API has not been used (SERVICE_DISABLED)"),
            "gcloud services enable cloudscheduler.googleapis.com --project=p",
        ),
        (exceptions.ServiceUnavailable("unreachable"), "could not list the jobs"),
        (exceptions.DeadlineExceeded("slow"), "DeadlineExceeded"),
    ],
)
def test_service_errors_are_one_line_with_what_to_do(monkeypatch, capsys, error, words):
    fake = FakeScheduler()
    fake.fail = error
    monkeypatch.setattr(schedules, "real_client", lambda project, say: fake)
    code = cli.main(["schedules", "apply", "--project=p", "--region=europe-west6"])
    assert code == cli.EXIT_UNAVAILABLE == 4
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("waiting for Cloud Scheduler")
    assert len(err) == 2 and err[1].startswith("error: ") and words in err[1]
    with pytest.raises(SchedulerUnavailable):
        scheduler(fake).plan([], prune=False)


def test_apply_through_the_cli_says_what_it_does(monkeypatch, capsys):
    fake = FakeScheduler()
    monkeypatch.setattr(schedules, "real_client", lambda project, say: fake)
    _, jobs = load(EXAMPLE)
    assert cli.main(["schedules", "apply", "--project=p", "--region=europe-west6"]) == 0
    captured = capsys.readouterr()
    assert f"applied: {len(jobs)} created, 0 updated, 0 deleted, 0 unchanged" in captured.out
    assert captured.err.count("waiting for Cloud Scheduler") == 1 + len(jobs)
    assert cli.main(["schedules", "apply", "--project=p", "--region=europe-west6"]) == 0
    assert f"0 created, 0 updated, 0 deleted, {len(jobs)} unchanged" in capsys.readouterr().out


def test_the_local_stack_s_project_is_never_taken_for_a_real_one(monkeypatch, capsys, no_network):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "local-ib")
    assert cli.main(["schedules", "apply"]) == cli.EXIT_INVALID
    assert "give --project" in capsys.readouterr().err


def test_credentials_come_from_adc_else_from_gcloud_else_a_clear_error(tmp_path, monkeypatch):
    import google.auth
    from google.auth import exceptions as auth_exceptions

    def no_adc(**kwargs):
        raise auth_exceptions.DefaultCredentialsError("none")

    monkeypatch.setattr(google.auth, "default", no_adc)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SchedulerUnavailable, match="gcloud auth application-default login"):
        schedules.credentials("p", say=lambda _: None)
    gcloud = tmp_path / "gcloud"
    gcloud.write_text("#!/bin/sh\n[ \"$*\" = 'auth print-access-token' ] && echo tok-123\n")
    gcloud.chmod(0o755)
    said: list[str] = []
    assert schedules.credentials("p", say=said.append).token == "tok-123"
    assert said == ["no application default credentials: asking gcloud for its account's token ..."]


@pytest.mark.parametrize(
    ("top", "words"),
    [
        ({"loaction": "europe-west6"}, "unknown top-level field loaction"),
        ({"defaults": {"timezone": "UTC"}}, "defaults: unknown field timezone"),
        ({"defaults": ["UTC"]}, "defaults: expected a mapping"),
        ({"project": "my project"}, "project: expected a name"),
        ({"topic": 5}, "topic: expected a name"),
        ({"defaults": {"timeZone": 5}}, "unknown time zone 5"),
        ({"defaults": {"timeZone": "Mars/Base"}}, "unknown time zone 'Mars/Base'"),
        ({"defaults": {"schedule": "61 * * * *"}}, "schedule"),
    ],
)
def test_the_whole_file_is_checked_strictly(tmp_path, capsys, top, words):
    job = {"name": "a", "intent": "ping"} if "schedule" in str(top) else None
    job = job or {"name": "a", "schedule": "0 9 * * *", "intent": "ping"}
    path = str(write(tmp_path, [job], **top))
    assert cli.main(["schedules", "apply", "--dry-run", "--file", path]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err


def test_a_watch_job_lists_the_other_jobs_of_its_trading_mode(tmp_path):
    path = write(
        tmp_path,
        [
            {"name": "a", "schedule": "0 9 * * *", "intent": "ping", "ttlSeconds": 60},
            {"name": "b", "schedule": "0 9 * * *", "intent": "ping", "expectWithinSeconds": 99},
            {"name": "c", "schedule": "0 9 * * *", "intent": "ping", "tradingMode": "live"},
            {"name": "w", "schedule": "*/5 * * * *", "intent": "watch"},
        ],
    )
    _, jobs = load(path)
    listed = jobs[-1].body["params"]["jobs"]
    assert [j["name"] for j in listed] == ["a", "b"]  # not the live job, not the watch itself
    assert listed[0] == {
        "name": "a",
        "schedule": "0 9 * * *",
        "timeZone": "Etc/UTC",
        "intent": "ping",
        "ttlSeconds": 60,
    }
    assert listed[1]["expectWithinSeconds"] == 99


def test_the_shipped_file_watches_every_other_job():
    _, jobs = load(EXAMPLE)
    (watch,) = [j for j in jobs if j.body["intent"] == "watch"]
    others = {j.name for j in jobs if j is not watch}
    assert {j["name"] for j in watch.body["params"]["jobs"]} == others
    assert watch.schedule.startswith("*/")  # every few minutes


@pytest.mark.parametrize("within", [0, -5, "60", 1.5, True, 7 * 86400 + 1])
def test_a_bad_expected_window_is_a_clear_error(tmp_path, within):
    path = write(
        tmp_path,
        [{"name": "a", "schedule": "0 9 * * *", "intent": "ping", "expectWithinSeconds": within}],
    )
    with pytest.raises(ScheduleError, match="job 'a': expectWithinSeconds must be 1 to"):
        load(path)


def _near_restart_jobs(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        [
            {"name": "late-ping", "schedule": "20 23 * * MON-FRI", "intent": "summary"},
            {"name": "night-ping", "schedule": "*/5 * * * SAT", "intent": "summary"},
            {"name": "morning-ping", "schedule": "0 9 * * MON-FRI", "intent": "summary"},
            {
                "name": "zurich-ping",  # 05:15 Zurich is 23:15 New York (both on winter time)
                "schedule": "15 5 * * TUE",
                "intent": "summary",
                "timeZone": "Europe/Zurich",
            },
        ],
        defaults={"timeZone": "America/New_York"},
    )


def test_jobs_near_the_gateway_s_daily_restart_are_warned_about(tmp_path):
    _, jobs = load(_near_restart_jobs(tmp_path))
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # Monday
    warned = schedules_apply.warn_restart_overlaps(jobs, "23:15", now)
    named = [line.split()[1] for line in warned]
    assert named == ["late-ping", "night-ping", "zurich-ping"]
    assert "late-ping runs Mon 23:20 EST" in warned[0]
    assert schedules_apply.warn_restart_overlaps(jobs, "05:00", now) == [
        line
        for line in schedules_apply.warn_restart_overlaps(jobs, "05:00", now)
        if line.split()[1] == "night-ping"
    ]


def test_the_dry_run_prints_the_warning_and_a_bad_restart_time_is_one_error(
    tmp_path, capsys, no_network
):
    path = _near_restart_jobs(tmp_path)
    args = ["schedules", "apply", "--dry-run", "--file", str(path)]
    assert cli.main([*args, "--gateway-restart-time", "23:15"]) == 0
    captured = capsys.readouterr()
    assert "warning: late-ping runs" in captured.err
    assert "morning-ping" not in captured.err
    assert "dry run: nothing changed" in captured.out
    assert cli.main([*args, "--gateway-restart-time", "12:00"]) != 0
    assert "market hours" in capsys.readouterr().err


def test_the_shipped_schedules_keep_clear_of_the_default_restart():
    _, jobs = load(EXAMPLE)
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert schedules_apply.warn_restart_overlaps(jobs, "23:15", now) == []
