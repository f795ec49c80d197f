"""`python -m publisher schedules apply`: the dry run (every job, what it sends and its next runs,
with nothing contacted) or the real apply (says what it waits for, then what it changed)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from publisher import cron, market_calendar, schedule_marks, schedules
from publisher.connection import EMULATORS
from worker import names
from worker.gateway.restarts import GatewayCalendar, restart_time

NEXT_RUNS = 3
OVERLAP_LOOKAHEAD = timedelta(days=8)  # every weekday and the weekend once
OVERLAP_MAX_RUNS = 3000  # a job every 5 minutes runs 2304 times in 8 days


def next_runs(job: schedules.Job, now: datetime, count: int = NEXT_RUNS) -> list[str]:
    """The job's next run times in its own time zone, e.g. `Mon 2026-03-02 09:00 EST`."""
    zone = ZoneInfo(job.time_zone)
    return [
        moment.strftime("%a %Y-%m-%d %H:%M %Z")
        for moment in cron.next_runs(job.schedule, zone, now, count)
    ]


def describe(job: schedules.Job, topic: str, now: datetime, verb: str = "") -> str:
    runs = ", ".join(next_runs(job, now)) or "never (no such date)"
    return (
        f"{verb + ' ' if verb else ''}{job.name}: {job.schedule} ({job.time_zone}) -> {topic}\n"
        f"    next runs   {runs}\n"
        f"    attributes  {json.dumps(job.attributes, sort_keys=True)}\n"
        f"    data        {job.data}"
    )


def near_restart(job: schedules.Job, calendar: GatewayCalendar, now: datetime) -> datetime | None:
    """The job's first run in the next 8 days that meets the gateway's daily restart, if any."""
    zone = ZoneInfo(job.time_zone)
    for moment in cron.next_runs(job.schedule, zone, now, OVERLAP_MAX_RUNS):
        if moment - now > OVERLAP_LOOKAHEAD:
            return None
        if calendar.near_restart(moment):
            return moment
    return None


def warn_restart_overlaps(jobs: list[schedules.Job], restart: str, now: datetime) -> list[str]:
    """One warning line per job that runs near the always-on gateway's daily restart."""
    try:
        calendar = GatewayCalendar(restart=restart_time(restart))
    except ValueError as exc:
        raise schedules.ScheduleError(f"--gateway-restart-time: {exc}") from None
    warnings = []
    for job in filter(schedule_marks.uses_gateway, jobs):
        moment = near_restart(job, calendar, now)
        if moment is not None:
            warnings.append(
                f"warning: {job.name} runs {moment.strftime('%a %H:%M %Z')}, within the always-on "
                f"gateway's daily restart ({restart} New York, 5 min before to 10 min after): "
                "with GATEWAY_MODE=external it may find no gateway; move it or the restart "
                "(GATEWAY_RESTART_TIME)"
            )
    return warnings


def calendar_report(jobs: list[schedules.Job], exchange: str, now: datetime) -> list[str]:
    """The runs of the next year that fall on a closed market or in IB's reset windows."""
    try:
        return schedule_marks.report(jobs, now, exchange)
    except ValueError as exc:
        raise schedules.ScheduleError(f"--exchange: {exc}") from None


def _project(args: argparse.Namespace, settings: dict) -> str | None:
    if args.project or settings.get("project"):
        return args.project or settings.get("project")
    if any(os.environ.get(variable) for _, variable in EMULATORS.values()):
        return None  # a sourced .devstack/env: its project is the local stack's, not a real one
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT")


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    settings, jobs = schedules.load(args.file)
    now = now or datetime.now(UTC)
    project = _project(args, settings)
    location = args.region or settings.get("location")
    restart = getattr(args, "gateway_restart_time", None) or "23:15"
    for line in warn_restart_overlaps(jobs, restart, now):
        print(line, file=sys.stderr)
    exchange = getattr(args, "exchange", None) or market_calendar.DEFAULT_EXCHANGE
    marks = calendar_report(jobs, exchange, now)
    if args.dry_run:
        named = settings.get("topic", names.INTENTS_TOPIC)
        topic = f"projects/{project or 'PROJECT'}/topics/{named}"
        print(
            f"dry run: the {len(jobs)} jobs of {args.file.name} for Cloud Scheduler, project "
            f"{project or 'PROJECT'}, location {location or 'LOCATION'} (nothing is contacted)\n"
        )
        for job in jobs:
            print(describe(job, topic, now) + "\n")
        print("\n".join(marks) + "\n")
        print("dry run: nothing changed")
        return 0
    if not project or not location:
        raise schedules.ScheduleError(
            "give --project and --region (or project and location in the file): Cloud Scheduler "
            "has no local emulator, so the local stack's project does not count"
        )
    scheduler = schedules.Scheduler(project, location, settings.get("topic", names.INTENTS_TOPIC))
    plan = scheduler.plan(jobs, args.prune)
    for job in plan.create:
        print(describe(job, scheduler.topic, now, "create"))
    for job in plan.update:
        print(describe(job, scheduler.topic, now, "update"))
    for name in plan.delete:
        print(f"delete {name}")
    for name in plan.unchanged:
        print(f"unchanged {name}")
    print("\n".join(marks))
    scheduler.apply(plan)
    print(
        f"applied: {len(plan.create)} created, {len(plan.update)} updated, "
        f"{len(plan.delete)} deleted, {len(plan.unchanged)} unchanged"
    )
    return 0
