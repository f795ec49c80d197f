"""Cloud Scheduler jobs as code: `schedules.yaml` -> create, update, delete through gcloud."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from publisher import cron
from publisher.client import INTENTS_TOPIC, PublishError, build_message

MARKER = "[ib-intents]"  # in the description of every job this tool manages
NAME = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
JOB_KEYS = {
    "name",
    "schedule",
    "timeZone",
    "intent",
    "params",
    "tradingMode",
    "ttlSeconds",
    "description",
}

Runner = Callable[[Sequence[str]], str]


class ScheduleError(ValueError):
    """The schedules file is not valid; the message names the job and the field."""


@dataclass(frozen=True)
class Job:
    name: str
    schedule: str
    time_zone: str
    body: dict[str, Any]
    attributes: dict[str, str]
    description: str

    @property
    def data(self) -> str:
        return json.dumps(self.body, separators=(",", ":"), sort_keys=True)


@dataclass
class Plan:
    create: list[Job] = field(default_factory=list)
    update: list[Job] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def load(path: Path) -> tuple[dict[str, Any], list[Job]]:
    """The file's settings and its jobs, every one validated."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScheduleError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise ScheduleError(f"{path}: expected a mapping with a `jobs` list")
    defaults = data.get("defaults") or {}
    jobs, seen = [], set()
    for n, raw in enumerate(data["jobs"], 1):
        if not isinstance(raw, dict):
            raise ScheduleError(f"job {n}: expected a mapping")
        name = raw.get("name", f"#{n}")
        where = f"job {name!r}"
        unknown = set(raw) - JOB_KEYS
        if unknown:
            raise ScheduleError(f"{where}: unknown field {', '.join(sorted(unknown))}")
        if not isinstance(name, str) or not NAME.match(name):
            raise ScheduleError(f"{where}: name must be 1-500 of [A-Za-z0-9_-]")
        if name in seen:
            raise ScheduleError(f"{where}: the name is used twice")
        seen.add(name)
        job = {**defaults, **raw}
        try:
            cron.validate(str(job.get("schedule", "")))
        except cron.CronError as exc:
            raise ScheduleError(f"{where}: schedule {exc}") from None
        zone = job.get("timeZone", "Etc/UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"{where}: unknown time zone {zone!r}") from None
        try:
            body, attributes = build_message(
                job.get("intent", ""),
                job.get("params"),
                job.get("tradingMode", "paper"),
                ttl=job.get("ttlSeconds"),
                requested_by=f"scheduler/{name}",
            )
        except PublishError as exc:
            raise ScheduleError(f"{where}: {exc}") from None
        description = f"{MARKER} {job.get('description') or job['intent']}"
        jobs.append(Job(name, job["schedule"], zone, body, attributes, description))
    return data, jobs


def gcloud(args: Sequence[str]) -> str:
    """Run gcloud; its output, or ScheduleError with its message."""
    done = subprocess.run(["gcloud", *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ScheduleError(f"gcloud {' '.join(args[:4])} failed: {done.stderr.strip()}")
    return done.stdout


class Scheduler:
    """Cloud Scheduler through a command runner (gcloud, or a stand-in in tests)."""

    def __init__(
        self, project: str, location: str, topic: str = INTENTS_TOPIC, run: Runner | None = None
    ) -> None:
        self.project, self.location, self.run = project, location, run or gcloud
        self.topic = f"projects/{project}/topics/{topic}"
        self.scope = [f"--location={location}", f"--project={project}"]

    def existing(self) -> dict[str, dict[str, Any]]:
        """Jobs this tool manages, by short name."""
        listed = json.loads(
            self.run(["scheduler", "jobs", "list", *self.scope, "--format=json"]) or "[]"
        )
        return {
            job["name"].rsplit("/", 1)[-1]: job
            for job in listed
            if (job.get("description") or "").startswith(MARKER)
        }

    def plan(self, jobs: list[Job], prune: bool) -> Plan:
        import base64

        plan, current = Plan(), self.existing()
        for job in jobs:
            have = current.get(job.name)
            if have is None:
                plan.create.append(job)
                continue
            target = have.get("pubsubTarget") or {}
            sent = base64.b64decode(target.get("data", "")).decode() if target.get("data") else ""
            same = (
                have.get("schedule") == job.schedule
                and have.get("timeZone") == job.time_zone
                and target.get("topicName") == self.topic
                and sent == job.data
                and (target.get("attributes") or {}) == job.attributes
                and have.get("description") == job.description
            )
            (plan.unchanged.append(job.name) if same else plan.update.append(job))
        if prune:
            plan.delete = sorted(set(current) - {j.name for j in jobs})
        return plan

    def _args(self, job: Job, verb: str) -> list[str]:
        attributes = ",".join(f"{k}={v}" for k, v in sorted(job.attributes.items()))
        flag = "--attributes" if verb == "create" else "--update-attributes"
        return [
            "scheduler",
            "jobs",
            verb,
            "pubsub",
            job.name,
            *self.scope,
            f"--schedule={job.schedule}",
            f"--time-zone={job.time_zone}",
            f"--topic={self.topic}",
            f"--message-body={job.data}",
            f"{flag}={attributes}",
            f"--description={job.description}",
        ]

    def commands(self, plan: Plan) -> list[list[str]]:
        return (
            [self._args(j, "create") for j in plan.create]
            + [self._args(j, "update") for j in plan.update]
            + [
                ["scheduler", "jobs", "delete", name, *self.scope, "--quiet"]
                for name in plan.delete
            ]
        )

    def apply(self, plan: Plan) -> None:
        for command in self.commands(plan):
            self.run(command)
