"""The intents list shows what needs attention (failed, dead-lettered, schedule-silent) first,
each group newest first (issue 22)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dashboard.routes.intents import attention_first

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_failed_dead_lettered_and_silent_come_first_newest_first(offline) -> None:
    add = offline.records.add
    for n, (intent_id, status, code) in enumerate(
        [
            ("old-failed", "failed", "risk-limit"),
            ("ok-1", "succeeded", None),
            ("dead", "failed", "dead-lettered"),
            ("refused", "rejected", "invalid-params"),
            ("silent", "failed", "schedule-silent"),
            ("ok-2", "succeeded", None),
        ]
    ):
        error = {"code": code, "message": code} if code else None
        add(
            "paper",
            intent_id,
            intent="ping",
            status=status,
            error=error,
            receivedAt=T0 + timedelta(minutes=n),
        )
    html = offline.client.get("/intents").get_data(as_text=True)
    body = html.split("<tbody>", 1)[1]
    listed = re.findall(r'href="/intents/paper/([^"]+)"', body)
    assert listed == ["silent", "dead", "old-failed", "ok-2", "refused", "ok-1"]
    assert "3 on this page need attention" in html


def test_no_attention_line_when_nothing_failed(offline) -> None:
    offline.records.add("paper", "fine", intent="ping", status="succeeded", receivedAt=T0)
    html = offline.client.get("/intents").get_data(as_text=True)
    assert "fine" in html and "on this page need" not in html


def test_the_order_is_stable_within_each_group() -> None:
    rows = [{"id": str(n), "attention": n % 3 == 0} for n in range(9)]
    ordered = attention_first(rows)
    assert [r["id"] for r in ordered] == ["0", "3", "6", "1", "2", "4", "5", "7", "8"]
