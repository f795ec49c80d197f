"""Schedules (the jobs of publisher/schedules.yaml and their next runs) and the effective
trading config (read-only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from dashboard import params, shapes
from dashboard.context import ctx
from publisher import cron, market_calendar, schedule_marks, schedules
from publisher.records import MODES
from worker import names

bp = Blueprint("info", __name__)
NEXT_RUNS = 3
# The next runs are marked against this exchange's calendar (exchange_calendars, in the dashboard's
# image; where it is missing the page says so) and against IB's reset windows always;
# `schedules apply --dry-run` marks the whole next year.
EXCHANGE = market_calendar.DEFAULT_EXCHANGE
SCHEDULES_FILE = Path(schedules.__file__).with_name("schedules.yaml")


def _now() -> datetime:
    return datetime.now(UTC)


@bp.get("/schedules", endpoint="schedules")
def schedules_page():  # type: ignore[no-untyped-def]
    _, errors = params.single(request.args, ())
    problem, jobs = None, []
    try:
        settings, found = schedules.load(SCHEDULES_FILE)
    except schedules.ScheduleError as exc:
        problem, settings, found = str(exc), {}, []
    now = _now()
    calendar, calendar_missing = schedule_marks.calendar_days(EXCHANGE, now)
    for job in found:
        zone = ZoneInfo(job.time_zone)
        runs = [t.astimezone(zone) for t in cron.next_runs(job.schedule, zone, now, NEXT_RUNS)]
        marked = {run.at: run.marks for run in schedule_marks.job_marks(job, runs, calendar)}
        jobs.append(
            {
                "job": job,
                "next": [(t, marked.get(t, ())) for t in runs],
                "intent": job.body.get("intent"),
                "params": shapes.shape(job.body.get("params") or {}),
                "mode": job.body.get("tradingMode", "paper"),
            }
        )
    page = render_template(
        "schedules.html",
        jobs=jobs,
        problem=problem,
        errors=errors,
        location=settings.get("location"),
        topic=settings.get("topic", names.INTENTS_TOPIC),
        exchange=EXCHANGE,
        calendar_missing=calendar_missing,
        labels=market_calendar.LABELS,
    )
    return page, 400 if errors else 200


@bp.get("/config")
def config():  # type: ignore[no-untyped-def]
    mode, errors = params.read_mode(request.args, ctx().settings.modes[0])
    effective = shapes.sorted_keys(ctx().records.config(mode))
    page = render_template(
        "config.html",
        mode=mode,
        modes=MODES,
        errors=errors,
        tree=shapes.shape(effective),
        raw=shapes.raw_json(effective),
    )
    return page, 400 if errors else 200
