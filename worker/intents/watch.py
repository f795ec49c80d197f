"""`watch`: tell when a scheduled job produced no result (a "silent schedule").

For each job in its params (filled from publisher/schedules.yaml by `schedules apply`), the fire
times come from the job's cron schedule. A run whose window (`expectWithinSeconds`, by default
the job's TTL plus this worker's deadline) ended within the last `lookbackSeconds`, and of which
no intent record exists (requested by `scheduler/<job>`, received within the window), gets one
`failed` result with error code `schedule-silent` naming the job. Its id is made from the job and
the fire time, and its record is created like any intent's, so a missed run is told once, however
often the watch runs; a run reported but not yet published (a crash between the two) is published
by the next watch.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker import cron, results
from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext, intent
from worker.record_types import RequestFields

if TYPE_CHECKING:
    from worker.store import IntentStore

log = logging.getLogger("worker.watch")
SILENT_CODE = "schedule-silent"
DEFAULT_LOOKBACK_SECONDS = 3600
MAX_RUNS_PER_JOB = 50  # fire times checked per job and watch (a job firing every minute)
ID_PREFIX = "schedule-silent:"
MAX_ID = 64  # schemas/intent.schema.json


@dataclass(frozen=True)
class WatchedJob:
    name: str
    intent: str
    schedule: str
    zone: ZoneInfo
    window: timedelta


@dataclass(frozen=True)
class Run:
    """One fire time of a job whose window has ended."""

    job: WatchedJob
    fired: datetime
    expected_by: datetime

    @property
    def id(self) -> str:
        return silent_id(self.job.name, self.fired)


def silent_id(job: str, fired: datetime) -> str:
    """`schedule-silent:20260302T1405Z:JOB`; a long job name is cut and made unique by a hash
    (an intent id is at most 64 characters)."""
    stamp = fired.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    short = f"{ID_PREFIX}{stamp}:{job}"
    if len(short) <= MAX_ID:
        return short
    digest = hashlib.sha256(job.encode()).hexdigest()[:8]
    room = MAX_ID - len(f"{ID_PREFIX}{stamp}::{digest}")
    return f"{ID_PREFIX}{stamp}:{job[:room]}:{digest}"


def watched(raw: dict[str, Any], deadline_seconds: int) -> WatchedJob:
    """A job of the params; IntentFailed (not retryable) for a schedule or zone that cannot be
    read (the schema checked the rest)."""
    name = raw["name"]
    try:
        cron.validate(raw["schedule"])
        zone = ZoneInfo(raw.get("timeZone") or "Etc/UTC")
    except cron.CronError as exc:
        raise IntentFailed("bad-schedule", f"job {name}: schedule {exc}") from None
    except (ZoneInfoNotFoundError, ValueError):
        raise IntentFailed("bad-schedule", f"job {name}: unknown time zone") from None
    seconds = raw.get("expectWithinSeconds") or (raw.get("ttlSeconds") or 0) + deadline_seconds
    return WatchedJob(
        name, raw.get("intent") or "-", raw["schedule"], zone, timedelta(seconds=seconds)
    )


def ended_runs(job: WatchedJob, now: datetime, lookback: timedelta) -> list[Run]:
    """The job's fire times whose window ended in (now - lookback, now], oldest first (at most
    MAX_RUNS_PER_JOB, the latest)."""
    after = now - lookback - job.window
    runs: deque[Run] = deque(maxlen=MAX_RUNS_PER_JOB)
    while True:
        chunk = cron.next_runs(job.schedule, job.zone, after, count=64)
        runs.extend(Run(job, f, f + job.window) for f in chunk if f + job.window <= now)
        if len(chunk) < 64 or chunk[-1] + job.window > now:
            return list(runs)
        after = chunk[-1]


@intent("watch")
def watch(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    from worker.store import IntentStore

    now = datetime.now(UTC)
    lookback = timedelta(seconds=params.get("lookbackSeconds", DEFAULT_LOOKBACK_SECONDS))
    deadline = ctx.settings.intent_deadline_seconds
    jobs = [watched(raw, deadline) for raw in params["jobs"]]
    store = IntentStore(ctx.settings, ctx.db)
    checked: list[dict[str, Any]] = []
    for job in jobs:
        for run in ended_runs(job, now, lookback):
            seen = ran(ctx, run)
            state = "ran" if seen else report(ctx, store, run, now)
            checked.append(
                {
                    "job": job.name,
                    "firedAt": results.iso(run.fired),
                    "expectedBy": results.iso(run.expected_by),
                    "state": state,
                }
            )
    silent = [c for c in checked if c["state"] in ("reported", "published")]
    # Counted by log-based metrics (deploy/cloud/monitoring.py): a watch that stops running is
    # noticed by the absence of this line.
    log.info(
        "watch checked %d runs of %d jobs: %d silent",
        len(checked),
        len(jobs),
        len(silent),
        extra={"fields": {"watch": "done"}},
    )
    return {"jobs": len(jobs), "runs": checked, "silent": len(silent)}


def ran(ctx: IntentContext, run: Run) -> bool:
    """Whether an intent record of this run exists: requested by the job, received within its
    window (a composite index on requestedBy and receivedAt serves the query)."""
    from google.cloud.firestore import FieldFilter

    query = (
        ctx.db.collection("intents")
        .where(filter=FieldFilter("requestedBy", "==", f"scheduler/{run.job.name}"))
        .where(filter=FieldFilter("receivedAt", ">=", run.fired))
        .where(filter=FieldFilter("receivedAt", "<=", run.expected_by))
    )
    found = ctx.db.stream(query.limit(20))
    return any((doc.to_dict() or {}).get("tradingMode") == ctx.trading_mode for doc in found)


def report(ctx: IntentContext, store: IntentStore, run: Run, now: datetime) -> str:
    """Create the silent run's terminal record and publish its result, once: `reported` (this
    watch published it), `published` (an earlier watch had recorded but not published it, this
    one did), `known` (told before) or `busy` (another instance is publishing it)."""
    err = results.error(
        SILENT_CODE,
        f"scheduled job {run.job.name} ({run.job.intent}) fired at {results.iso(run.fired)} "
        f"and no intent of it was received by {results.iso(run.expected_by)}",
    )
    result = results.build(
        settings=ctx.settings,
        id=run.id,
        intent=run.job.intent if run.job.intent != "-" else None,
        trading_mode=ctx.trading_mode,
        status="failed",
        message_id=run.id,  # the same on every report: a notifier dedupes a republish
        received_at=now,
        finished_at=now,
        result={
            "job": run.job.name,
            "firedAt": results.iso(run.fired),
            "expectedBy": results.iso(run.expected_by),
        },
        error=err,
        requested_by=f"watch/{ctx.id}",
    )
    fields: RequestFields = {
        "intent": result["intent"],
        "params": {},
        "tradingMode": ctx.trading_mode,
        "requestedBy": f"watch/{ctx.id}",
        "fingerprint": run.id,
        "publishedAtMs": None,
    }
    claim = store.close(run.id, fields, result, run.id)
    if claim.kind == "busy":
        return "busy"
    if claim.kind == "reused":  # a message took this id first: its record is not this report's
        log.warning("the id %s of a silent run is taken by another message", run.id)
        return "known"
    record = claim.record
    if claim.kind != "run" and (record.get("resultPublished") or not record.get("resultMessage")):
        return "known"
    published = _publisher(ctx).publish(record["resultMessage"])
    log.warning(
        "scheduled job %s fired at %s and gave no result",
        run.job.name,
        results.iso(run.fired),
        extra={"fields": {"code": SILENT_CODE, "job": run.job.name}},
    )
    store.mark_published(run.id, published)
    ctx.audit("schedule silent", {"job": run.job.name, "resultId": run.id})
    return "reported" if claim.kind == "run" else "published"


_publishers: dict[int, Any] = {}


def _publisher(ctx: IntentContext) -> Any:
    """One result publisher per worker process (its Pub/Sub client is reused)."""
    from worker.results import ResultPublisher

    key = id(ctx.settings)
    if key not in _publishers:
        _publishers[key] = ResultPublisher(ctx.settings)
    return _publishers[key]
