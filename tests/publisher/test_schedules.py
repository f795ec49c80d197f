"""Schedules as code, with the gcloud command runner stubbed at the process boundary."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from publisher import cli, schedules
from publisher.schedules import MARKER, ScheduleError, Scheduler, load

EXAMPLE = Path(schedules.__file__).with_name("schedules.yaml")


class FakeGcloud:
    """Records every command; answers `list` with the jobs it was given."""

    def __init__(self, existing: list[dict] | None = None) -> None:
        self.existing = existing or []
        self.calls: list[list[str]] = []

    def __call__(self, command):
        self.calls.append(list(command))
        return json.dumps(self.existing) if command[:3] == ["scheduler", "jobs", "list"] else ""


def as_listed(job: schedules.Job, project="p", location="europe-west6") -> dict:
    return {
        "name": f"projects/{project}/locations/{location}/jobs/{job.name}",
        "schedule": job.schedule,
        "timeZone": job.time_zone,
        "description": job.description,
        "pubsubTarget": {
            "topicName": f"projects/{project}/topics/intents",
            "data": base64.b64encode(job.data.encode()).decode(),
            "attributes": job.attributes,
        },
    }


def write(tmp_path: Path, jobs: list[dict], **top) -> Path:
    path = tmp_path / "schedules.yaml"
    path.write_text(json.dumps({"location": "europe-west6", **top, "jobs": jobs}))
    return path


def test_the_example_file_is_valid_and_its_dry_run_lists_every_job(capsys, monkeypatch):
    _, jobs = load(EXAMPLE)
    fake = FakeGcloud()
    monkeypatch.setattr(schedules, "gcloud", fake)
    assert cli.main(["schedules", "apply", "--dry-run", "--project=p"]) == 0
    out = capsys.readouterr().out
    assert [c[:3] for c in fake.calls] == [["scheduler", "jobs", "list"]]  # nothing else
    for job in jobs:
        assert f"create {job.name}: {job.schedule} ({job.time_zone})" in out
        assert f"data {job.data}" in out
    assert {j.body["intent"] for j in jobs} >= {"summary", "batch", "cash-balancer"}
    assert all("id" not in j.body and j.body["ttlSeconds"] for j in jobs)


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
def test_bad_files_are_clear_errors(tmp_path, job, words):
    with pytest.raises(ScheduleError, match=None) as caught:
        load(write(tmp_path, [job]))
    assert words in str(caught.value) and "job 'a" in str(caught.value)


def test_apply_creates_updates_deletes_exactly(tmp_path):
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
    unmanaged = {"name": "projects/p/locations/europe-west6/jobs/other", "description": "mine"}
    fake = FakeGcloud([as_listed(j) for j in old_jobs] + [unmanaged])
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
    scheduler = Scheduler("p", "europe-west6", run=fake)
    plan = scheduler.plan(new_jobs, prune=True)
    assert (
        [j.name for j in plan.create],
        [j.name for j in plan.update],
        plan.delete,
        plan.unchanged,
    ) == (["new"], ["change"], ["gone"], ["keep"])
    scheduler.apply(plan)
    scope = ["--location=europe-west6", "--project=p"]
    new_body = '{"intent":"summary","requestedBy":"scheduler/new","tradingMode":"paper"}'
    assert fake.calls[1:] == [
        [
            "scheduler",
            "jobs",
            "create",
            "pubsub",
            "new",
            *scope,
            "--schedule=0 10 * * MON",
            "--time-zone=Europe/Zurich",
            "--topic=projects/p/topics/intents",
            f"--message-body={new_body}",
            "--attributes=intent=summary,tradingMode=paper",
            f"--description={MARKER} summary",
        ],
        [
            "scheduler",
            "jobs",
            "update",
            "pubsub",
            "change",
            *scope,
            "--schedule=30 9 * * *",
            "--time-zone=Etc/UTC",
            "--topic=projects/p/topics/intents",
            '--message-body={"intent":"ping","requestedBy":"scheduler/change","tradingMode":"paper"}',
            "--update-attributes=intent=ping,tradingMode=paper",
            f"--description={MARKER} ping",
        ],
        ["scheduler", "jobs", "delete", "gone", *scope, "--quiet"],
    ]
    # Applying the same file again changes nothing: the jobs now match it.
    fake.existing = [as_listed(j) for j in new_jobs]
    again = scheduler.plan(new_jobs, prune=True)
    assert (again.create, again.update, again.delete) == ([], [], [])


def test_without_prune_nothing_is_deleted(tmp_path):
    _, jobs = load(write(tmp_path, [{"name": "a", "schedule": "0 9 * * *", "intent": "ping"}]))
    fake = FakeGcloud([as_listed(j) for j in jobs])
    assert Scheduler("p", "europe-west6", run=fake).plan([], prune=False).delete == []
