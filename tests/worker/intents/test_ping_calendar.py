"""`ping` with `gateway: true` in external mode: the session's age, the next restart and the
weekly approval, from the gateway calendar (GATEWAY_RESTART_TIME, GATEWAY_WEEKLY_APPROVAL)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support import delivery, unique
from worker.gateway.restarts import GatewayCalendar, restart_time
from worker.intents.ping import calendar_report


def test_the_report_counts_from_the_last_restart_and_names_the_next_one_and_the_approval():
    calendar = GatewayCalendar(restart=restart_time("17:30"))
    # Wednesday 4 March 2026, 15:00 UTC = 10:00 New York (EST)
    report = calendar_report(calendar, datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    assert report == {
        "sessionSince": "2026-03-03T22:30:00+00:00",
        "sessionAgeSeconds": 16 * 3600 + 30 * 60,
        "nextRestart": "2026-03-04T22:30:00+00:00",
        "weeklyApprovalDue": "2026-03-08T06:00:00+00:00",  # Sunday 01:00 EST
        "weeklyClosedown": "2026-03-08T07:00:00+00:00",  # Sunday 03:00 EDT: the push arrives
    }


def test_on_a_sunday_the_session_counts_from_the_weekly_closedown_s_fresh_login():
    """Before, the session's age counted from Saturday's 23:15 restart all Sunday, though the
    closedown at 03:00 logged in afresh (with the push)."""
    calendar = GatewayCalendar()  # restart 23:15, closedown Sunday 03:00 New York
    # Sunday 13 December 2026, 15:00 UTC = 10:00 New York (EST)
    report = calendar_report(calendar, datetime(2026, 12, 13, 15, 0, tzinfo=UTC))
    assert report["sessionSince"] == "2026-12-13T08:00:00+00:00"
    assert report["sessionAgeSeconds"] == 7 * 3600
    assert report["weeklyClosedown"] == "2026-12-20T08:00:00+00:00"
    # Monday 14 December, 10:00 New York: the last restart, Sunday 23:15, is the later login
    monday = calendar_report(calendar, datetime(2026, 12, 14, 15, 0, tzinfo=UTC))
    assert monday["sessionSince"] == "2026-12-14T04:15:00+00:00"


def test_ping_through_an_external_gateway_reports_the_calendar(make_worker, sim, results):
    worker = make_worker(sim, GATEWAY_RESTART_TIME="22:00", GATEWAY_WEEKLY_APPROVAL="Sun 01:30")
    intent_id = unique("pingcal")
    before = datetime.now(UTC)
    worker.handle(delivery({"intent": "ping", "id": intent_id, "params": {"gateway": True}}))
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    gateway = result["result"]["gateway"]
    assert gateway["mode"] == "external"
    expected = calendar_report(
        GatewayCalendar.parse("22:00", "Sun 01:30"), datetime.fromisoformat(gateway["time"])
    )
    assert gateway["nextRestart"] == expected["nextRestart"]
    assert gateway["weeklyApprovalDue"] == expected["weeklyApprovalDue"]
    assert gateway["weeklyClosedown"] == expected["weeklyClosedown"]
    assert datetime.fromisoformat(gateway["nextRestart"]) > before
    assert gateway["sessionAgeSeconds"] >= 0
