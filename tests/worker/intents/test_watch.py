"""`watch`: a scheduled job whose fire time passed without a result gets one `schedule-silent`
result, once; a job that ran gets none. Fire times and ids without Firestore; the rest on the
local stack's emulators through an in-process pipeline."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import delivery, intent_ref, pipeline, unique
from worker.exceptions import IntentFailed
from worker.intents.watch import MAX_ID, WatchedJob, ended_runs, silent_id, watched

UTC_ZONE = ZoneInfo("Etc/UTC")


def job(schedule: str, window: int = 60, zone: str = "Etc/UTC") -> WatchedJob:
    return WatchedJob("j", "ping", schedule, ZoneInfo(zone), timedelta(seconds=window))


def test_only_runs_whose_window_ended_within_the_lookback_are_checked():
    now = datetime(2026, 3, 2, 14, 7, 30, tzinfo=UTC)
    runs = ended_runs(job("*/5 * * * *", window=120), now, timedelta(minutes=11))
    # Windows ended since 13:56:30: 14:05's at 14:07, 14:00's, 13:55's at 13:57 (13:50's at
    # 13:52 is older; 14:10's has not started).
    assert [r.fired.strftime("%H:%M") for r in runs] == ["13:55", "14:00", "14:05"]
    assert all(r.expected_by == r.fired + timedelta(seconds=120) for r in runs)


def test_a_daily_job_in_its_own_time_zone():
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York
    runs = ended_runs(job("0 9 * * MON-FRI", 1800, "America/New_York"), now, timedelta(hours=1))
    (run,) = runs
    assert run.fired.astimezone(UTC) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert ended_runs(job("0 9 * * SAT", 1800, "America/New_York"), now, timedelta(hours=1)) == []


def test_a_job_firing_every_minute_is_checked_for_its_latest_runs_only():
    now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    runs = ended_runs(job("* * * * *", 60), now, timedelta(days=2))
    assert len(runs) == 50 and runs[-1].fired == now - timedelta(minutes=1)


def test_the_default_window_is_the_ttl_plus_the_worker_deadline():
    raw = {"name": "a", "schedule": "0 9 * * *", "ttlSeconds": 1800}
    assert watched(raw, 480).window == timedelta(seconds=2280)
    assert watched({**raw, "expectWithinSeconds": 60}, 480).window == timedelta(seconds=60)
    with pytest.raises(IntentFailed, match="time zone"):
        watched({**raw, "timeZone": "Mars/Olympus"}, 480)
    with pytest.raises(IntentFailed, match="schedule"):
        watched({**raw, "schedule": "61 * * * *"}, 480)


@given(
    st.from_regex(r"[A-Za-z0-9_-]{1,500}", fullmatch=True),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_silent_ids_are_valid_intent_ids_one_per_job_and_minute(name, when):
    fired = when.replace(tzinfo=UTC)
    made = silent_id(name, fired)
    assert len(made) <= MAX_ID
    assert all(c.isalnum() or c in "._:-" for c in made) and made.isascii()
    assert made != silent_id(name + "x", fired)
    assert made != silent_id(name, fired + timedelta(minutes=1))


# -- on the stack -------------------------------------------------------------------------------


def daily_at(moment: datetime) -> str:
    return f"{moment.minute} {moment.hour} * * *"


def test_a_missed_run_gives_one_schedule_silent_result_and_a_run_that_ran_none(
    stack, db, results, caplog
):
    caplog.set_level(logging.INFO, logger="worker.watch")
    worker = pipeline(stack)
    fired = (datetime.now(UTC) - timedelta(minutes=3)).replace(second=0, microsecond=0)
    silent, ran = unique("silent-job"), unique("ran-job")
    record = intent_ref(db, unique("scheduled-run"))
    record.set(
        {
            "intent": "ping",
            "tradingMode": "paper",
            "status": "succeeded",
            "requestedBy": f"scheduler/{ran}",
            "receivedAt": fired + timedelta(seconds=5),
        }
    )
    jobs = [
        {"name": name, "intent": "ping", "schedule": daily_at(fired), "expectWithinSeconds": 60}
        for name in (silent, ran)
    ]
    params = {"jobs": jobs, "lookbackSeconds": 600}
    try:
        first, second = unique("watch"), unique("watch")
        worker.handle(delivery({"intent": "watch", "id": first, "params": params}))
        told = results.for_id(first)
        assert told["status"] == "succeeded", told["error"]
        states = {r["job"]: r["state"] for r in told["result"]["runs"]}
        assert states == {silent: "reported", ran: "ran"}
        missed = results.for_id(silent_id(silent, fired))
        assert missed["status"] == "failed" and missed["error"]["code"] == "schedule-silent"
        assert silent in missed["error"]["message"] and missed["result"]["job"] == silent
        assert missed["tradingMode"] == "paper" and missed["intent"] == "ping"
        # The fields Cloud Monitoring's log-based metrics count (deploy/cloud/monitoring.py).
        fields = [getattr(r, "fields", {}) for r in caplog.records]
        assert {"code": "schedule-silent", "job": silent} in fields
        assert {"watch": "done"} in fields

        worker.handle(delivery({"intent": "watch", "id": second, "params": params}))
        again = results.for_id(second)
        assert {r["job"]: r["state"] for r in again["result"]["runs"]} == {
            silent: "known",
            ran: "ran",
        }
        assert len(results.all_for(silent_id(silent, fired))) == 1
        kept = intent_ref(db, silent_id(silent, fired)).get().to_dict()
        assert kept["status"] == "failed" and kept["resultPublished"] is True
    finally:
        record.delete()
        worker.session.close()


def test_the_watch_query_has_its_firestore_index():
    import yaml

    from deploy.stack import ROOT

    data = yaml.safe_load((ROOT / "deploy" / "firestore-indexes.yaml").read_text())
    wanted = [
        {"field": "requestedBy", "order": "ASCENDING"},
        {"field": "receivedAt", "order": "ASCENDING"},
    ]
    assert any(i["collection"] == "intents" and i["fields"] == wanted for i in data["indexes"])


def test_an_id_taken_by_another_message_is_not_reported_over(stack, results):
    worker = pipeline(stack)
    fired = (datetime.now(UTC) - timedelta(minutes=3)).replace(second=0, microsecond=0)
    job = unique("taken-job")
    taken = silent_id(job, fired)
    params = {
        "jobs": [{"name": job, "schedule": daily_at(fired), "expectWithinSeconds": 60}],
        "lookbackSeconds": 600,
    }
    try:
        worker.handle(delivery({"intent": "ping", "id": taken}))  # someone published this id
        assert results.for_id(taken)["status"] == "succeeded"
        watch_id = unique("watch")
        worker.handle(delivery({"intent": "watch", "id": watch_id, "params": params}))
        told = results.for_id(watch_id)
        assert [r["state"] for r in told["result"]["runs"]] == ["known"]
        assert [r["status"] for r in results.all_for(taken)] == ["succeeded"]
    finally:
        worker.session.close()
