"""The market calendar applied to the jobs of schedules.yaml: which of a job's runs fall on a closed
market or inside IB's reset windows (`schedules apply`, its dry run, the dashboard's Schedules
page). Only jobs whose intent uses the gateway are marked: `watch` reads Firestore, a `ping`
without `gateway` touches nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from publisher import cron, market_calendar, schedules
from publisher.market_calendar import ExchangeDays, MarkedRun

PLAN_DAYS = 365
MAX_RUNS = 110_000  # a job every 5 minutes runs 105,120 times in a year
LINES_PER_JOB = 25  # marked runs listed per job; the rest are counted


def uses_gateway(job: schedules.Job) -> bool:
    """Whether the job's intent needs the gateway (and with it IB and a market)."""
    intent, params = job.body.get("intent"), job.body.get("params") or {}
    return intent != "watch" and (intent != "ping" or bool(params.get("gateway")))


def calendar_days(
    exchange: str, now: datetime, days: int = PLAN_DAYS
) -> tuple[ExchangeDays | None, str | None]:
    """The exchange's calendar over the planned days, or None and why (library not installed)."""
    try:
        start = now.date() - timedelta(days=1)
        return market_calendar.exchange_days(
            exchange, start, start + timedelta(days=days + 2)
        ), None
    except market_calendar.CalendarUnavailable as exc:
        return None, str(exc)


def runs(job: schedules.Job, now: datetime, until: datetime) -> list[datetime]:
    """The job's runs after `now` and before `until`, in its own time zone."""
    found = cron.next_runs(job.schedule, ZoneInfo(job.time_zone), now, MAX_RUNS)
    return [moment for moment in found if moment < until]


def job_marks(
    job: schedules.Job, moments: list[datetime], days: ExchangeDays | None
) -> list[MarkedRun]:
    return market_calendar.mark_runs(moments, days) if uses_gateway(job) else []


def _counts(marked: list[MarkedRun]) -> str:
    counts = market_calendar.count(marked)
    return ", ".join(f"{n} {market_calendar.LABELS[kind]}" for kind, n in counts.items())


def report(
    jobs: list[schedules.Job], now: datetime, exchange: str, days: int = PLAN_DAYS
) -> list[str]:
    """The dry run's calendar section: per job one line per marked run (at most LINES_PER_JOB),
    a count per kind, and a total."""
    calendar, missing = calendar_days(exchange, now, days)
    until = now + timedelta(days=days)
    against = f"{exchange} and IB's reset windows" if calendar else "IB's reset windows only"
    lines = [
        f"calendar: the runs of the next {days} days against {against} (planning only: at run "
        "time IB's trading hours decide, and whenClosed says what happens; docs/market-hours.md)"
    ]
    if missing:
        lines.append(f"    {missing}: holidays and early closes are not marked")
    total, marked_jobs = 0, 0
    for job in jobs:
        if not uses_gateway(job):
            lines.append(f"  {job.name}: not marked (needs neither the gateway nor a market)")
            continue
        moments = runs(job, now, until)
        marked = job_marks(job, moments, calendar)
        if not marked:
            lines.append(f"  {job.name}: none of {len(moments)} runs marked")
            continue
        total, marked_jobs = total + len(marked), marked_jobs + 1
        lines.append(
            f"  {job.name}: {len(marked)} of {len(moments)} runs marked ({_counts(marked)})"
        )
        for run in marked[:LINES_PER_JOB]:
            lines.append(f"    {run.at:%a %Y-%m-%d %H:%M %Z}  {run.describe()}")
        if len(marked) > LINES_PER_JOB:
            lines.append(f"    ... and {len(marked) - LINES_PER_JOB} more")
    lines.append(f"calendar: {total} marked runs in {marked_jobs} of {len(jobs)} jobs")
    return lines
