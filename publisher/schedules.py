"""Cloud Scheduler jobs as code: `schedules.yaml` -> create, update, delete through Cloud
Scheduler's client library (or any object with its methods: a stand-in in tests, as Cloud Scheduler
has no emulator)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from publisher import cron
from publisher.client import INTENTS_TOPIC, PublishError, build_message
from publisher.connection import NotConnected

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
    "expectWithinSeconds",
}
TOP_KEYS = {"project", "location", "topic", "defaults", "jobs"}

WATCH_INTENT = "watch"  # its params list the other jobs (worker/intents/watch.py)
MAX_EXPECT_WITHIN_SECONDS = 7 * 86400
TIMEOUT_SECONDS = 30.0  # per call to Cloud Scheduler
UPDATED_FIELDS = ["schedule", "time_zone", "pubsub_target", "description"]


class ScheduleError(ValueError):
    """The schedules file is not valid; the message names the job and the field."""


class SchedulerUnavailable(NotConnected):
    """Cloud Scheduler could not be used; the message says why and what to do (one line)."""


class SchedulerClient(Protocol):
    """What this module uses of `google.cloud.scheduler_v1.CloudSchedulerClient`."""

    def list_jobs(self, *, parent: str, timeout: float) -> Iterable[Any]: ...
    def create_job(self, *, parent: str, job: Any, timeout: float) -> Any: ...
    def update_job(self, *, job: Any, update_mask: Any, timeout: float) -> Any: ...
    def delete_job(self, *, name: str, timeout: float) -> None: ...


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
    _check_top(data)
    defaults = data.get("defaults") or {}
    merged, seen = [], set()
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
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ScheduleError(f"{where}: unknown time zone {zone!r}") from None
        within = job.get("expectWithinSeconds")
        if within is not None and not (
            type(within) is int and 1 <= within <= MAX_EXPECT_WITHIN_SECONDS
        ):
            raise ScheduleError(
                f"{where}: expectWithinSeconds must be 1 to {MAX_EXPECT_WITHIN_SECONDS}"
            )
        merged.append((where, name, job, zone))
    watched = [
        (job.get("tradingMode", "paper"), watched_entry(name, job, zone))
        for _, name, job, zone in merged
        if job.get("intent") != WATCH_INTENT
    ]
    jobs = []
    for where, name, job, zone in merged:
        mode = job.get("tradingMode", "paper")
        params = job.get("params")
        if job.get("intent") == WATCH_INTENT:
            params = watch_params(params, [entry for m, entry in watched if m == mode])
        try:
            body, attributes = build_message(
                job.get("intent", ""),
                params,
                mode,
                ttl=job.get("ttlSeconds"),
                requested_by=f"scheduler/{name}",
            )
        except PublishError as exc:
            raise ScheduleError(f"{where}: {exc}") from None
        description = f"{MARKER} {job.get('description') or job['intent']}"
        jobs.append(Job(name, job["schedule"], zone, body, attributes, description))
    return data, jobs


def watched_entry(name: str, job: dict[str, Any], zone: str) -> dict[str, Any]:
    """What a `watch` job needs to know of another job to tell when it stays silent."""
    entry = {"name": name, "schedule": job["schedule"], "timeZone": zone}
    if isinstance(job.get("intent"), str):
        entry["intent"] = job["intent"]
    for key in ("ttlSeconds", "expectWithinSeconds"):
        if job.get(key) is not None:
            entry[key] = job[key]
    return entry


def watch_params(params: Any, entries: list[dict[str, Any]]) -> Any:
    """A watch job's params with `jobs` filled from the file (the other jobs of its trading
    mode), unless the file lists them itself."""
    if params is None:
        params = {}
    if not isinstance(params, dict) or "jobs" in params:
        return params
    return {**params, "jobs": entries}


def _check_top(data: dict[str, Any]) -> None:
    """The file's own keys: only those known, each of its type (the jobs are checked one by
    one)."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ScheduleError(
            f"unknown top-level field {', '.join(sorted(map(str, unknown)))} "
            f"(known: {', '.join(sorted(TOP_KEYS))})"
        )
    for key in ("project", "location", "topic"):
        if key in data and not (isinstance(data[key], str) and NAME.match(data[key])):
            raise ScheduleError(f"{key}: expected a name of [A-Za-z0-9_-], not {data[key]!r}")
    defaults = data.get("defaults")
    if defaults is None:
        return
    if not isinstance(defaults, dict):
        raise ScheduleError("defaults: expected a mapping of job fields")
    unknown = set(defaults) - (JOB_KEYS - {"name"})
    if unknown:
        raise ScheduleError(f"defaults: unknown field {', '.join(sorted(map(str, unknown)))}")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Scheduler:
    """The jobs of one project and location; `client` is made on first use unless given."""

    def __init__(
        self,
        project: str,
        location: str,
        topic: str = INTENTS_TOPIC,
        client: SchedulerClient | None = None,
        say: Callable[[str], None] = _say,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.project, self.location, self.timeout, self.say = project, location, timeout, say
        self.topic = f"projects/{project}/topics/{topic}"
        self.parent = f"projects/{project}/locations/{location}"
        self._client = client

    @property
    def client(self) -> SchedulerClient:
        if self._client is None:
            self._client = real_client(self.project, self.say)
        return self._client

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        from google.api_core import exceptions

        client = self.client
        self.say(f"waiting for Cloud Scheduler ({self.parent}): {what} ...")
        try:
            return getattr(client, method)(**kwargs, timeout=self.timeout)
        except exceptions.PermissionDenied as exc:
            raise SchedulerUnavailable(
                f"Cloud Scheduler refused to {what} in {self.parent}: {_reason(exc)} (the "
                "account needs roles/cloudscheduler.admin, and the API must be enabled: "
                f"gcloud services enable cloudscheduler.googleapis.com --project={self.project})"
            ) from None
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:
            raise SchedulerUnavailable(
                f"Cloud Scheduler could not {what} in {self.parent}: {_reason(exc)}"
            ) from None

    def existing(self) -> dict[str, Any]:
        """Jobs this tool manages, by short name."""
        listed = list(self._call("list the jobs", "list_jobs", parent=self.parent))
        return {
            job.name.rsplit("/", 1)[-1]: job
            for job in listed
            if (job.description or "").startswith(MARKER)
        }

    def plan(self, jobs: list[Job], prune: bool) -> Plan:
        plan, current = Plan(), self.existing()
        for job in jobs:
            have = current.get(job.name)
            if have is None:
                plan.create.append(job)
            elif self._same(have, job):
                plan.unchanged.append(job.name)
            else:
                plan.update.append(job)
        if prune:
            plan.delete = sorted(set(current) - {j.name for j in jobs})
        return plan

    def _same(self, have: Any, job: Job) -> bool:
        target = have.pubsub_target
        return (
            have.schedule == job.schedule
            and have.time_zone == job.time_zone
            and target.topic_name == self.topic
            and bytes(target.data).decode(errors="replace") == job.data
            and dict(target.attributes) == job.attributes
            and have.description == job.description
        )

    def job_proto(self, job: Job) -> Any:
        from google.cloud import scheduler_v1

        return scheduler_v1.Job(
            name=f"{self.parent}/jobs/{job.name}",
            description=job.description,
            schedule=job.schedule,
            time_zone=job.time_zone,
            pubsub_target=scheduler_v1.PubsubTarget(
                topic_name=self.topic, data=job.data.encode(), attributes=job.attributes
            ),
        )

    def apply(self, plan: Plan) -> None:
        from google.protobuf import field_mask_pb2

        for job in plan.create:
            self._call(
                f"create {job.name}", "create_job", parent=self.parent, job=self.job_proto(job)
            )
        for job in plan.update:
            self._call(
                f"update {job.name}",
                "update_job",
                job=self.job_proto(job),
                update_mask=field_mask_pb2.FieldMask(paths=UPDATED_FIELDS),
            )
        for name in plan.delete:
            self._call(f"delete {name}", "delete_job", name=f"{self.parent}/jobs/{name}")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}"


def real_client(project: str, say: Callable[[str], None] = _say) -> SchedulerClient:
    """Cloud Scheduler's client with application default credentials, else with the gcloud CLI's
    signed-in account (what `deploy/setup.sh` runs with)."""
    try:
        from google.cloud import scheduler_v1
    except ImportError:
        raise SchedulerUnavailable(
            "the Cloud Scheduler client library is missing: pip install -e '.[publisher]' "
            "(make up installs it into .venv)"
        ) from None

    return scheduler_v1.CloudSchedulerClient(credentials=credentials(project, say))


def credentials(project: str, say: Callable[[str], None] = _say) -> Any:
    import shutil
    import subprocess

    import google.auth
    import google.oauth2.credentials
    from google.auth import exceptions

    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    try:
        found, _ = google.auth.default(scopes=scopes)
    except exceptions.DefaultCredentialsError:
        found = None
    if isinstance(found, google.oauth2.credentials.Credentials) and not found.quota_project_id:
        found = found.with_quota_project(project)  # user credentials are billed to a project
    if found is not None:
        return found
    gcloud = shutil.which("gcloud")
    if gcloud is not None:
        say("no application default credentials: asking gcloud for its account's token ...")
        try:
            done = subprocess.run(
                [gcloud, "auth", "print-access-token"], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            done = None
        if done is not None and done.returncode == 0 and done.stdout.strip():
            return google.oauth2.credentials.Credentials(done.stdout.strip())
    raise SchedulerUnavailable(
        "no Google credentials for Cloud Scheduler: run `gcloud auth application-default login` "
        "(or `gcloud auth login`), or use --dry-run"
    )
