"""The Schedules page marks the next runs that fall on a closed market or in IB's reset windows,
as `schedules apply --dry-run` does; without exchange_calendars (a worker-only install) only IB's
windows, and the page says so."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from publisher import market_calendar
from tests.dashboard import memory

# Wednesday 2026-12-23, 12:00 New York: rebalance-before-close next runs on Christmas Eve after its
# 13:00 early close, then on Christmas Day.
NOW = datetime(2026, 12, 23, 17, 0, tzinfo=UTC)


def runs_of(html: str, job: str) -> list[str]:
    card = html[html.index(f"<h2>{job}</h2>") :]
    listed = re.search(r'<ol class="runs">(.*?)</ol>', card, re.DOTALL)
    assert listed
    return re.findall(r"<li>(.*?)</li>", listed[1], re.DOTALL)


@pytest.fixture
def at_now(monkeypatch) -> None:
    monkeypatch.setattr("dashboard.routes.info._now", lambda: NOW)


def test_holidays_and_early_closes_are_marked_on_the_next_runs(
    offline: memory.Offline, at_now: None
) -> None:
    html = offline.client.get("/schedules").get_data(as_text=True)
    rebalance = runs_of(html, "rebalance-before-close")
    assert len(rebalance) == 3
    assert "2026-12-23 15:45" in rebalance[0] and "status" not in rebalance[0]
    assert "2026-12-24 15:45" in rebalance[1]
    assert "after an early close</span>" in rebalance[1]
    assert "XNYS closed at 13:00 EST" in rebalance[1]
    assert "2026-12-25 15:45" in rebalance[2]
    assert "holiday</span>" in rebalance[2] and "XNYS closed: Christmas" in rebalance[2]
    summary = runs_of(html, "morning-summary")
    assert "2026-12-25 09:00" in summary[1] and "Christmas" in summary[1]
    assert "early close" not in "".join(summary)  # 09:00 is before any close
    assert "status" not in "".join(runs_of(html, "watch-schedules"))
    assert "Holidays and early closes are not marked here" not in html


def test_without_the_library_only_ib_s_windows_and_a_note(
    offline: memory.Offline, at_now: None, monkeypatch
) -> None:
    def missing(*args: object) -> market_calendar.ExchangeDays:
        raise market_calendar.CalendarUnavailable("exchange_calendars is not installed")

    monkeypatch.setattr(market_calendar, "exchange_days", missing)
    html = offline.client.get("/schedules").get_data(as_text=True)
    assert "Christmas" not in html and "early close</span>" not in html
    assert "Holidays and early closes are not marked here" in html
    assert "exchange_calendars is not installed" in html
    assert "schedules apply --dry-run</code> marks them" in html
