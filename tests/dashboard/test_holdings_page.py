"""The Holdings page without the local stack (records in memory): what it says about how old the
picture of IB is, when it shows red, and its refresh button, which publishes one summary per
click and follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.settings import Settings
from publisher.client import build_message
from tests.dashboard.memory import MemoryRecords
from tests.dashboard.support import form_of

T0 = datetime(2026, 12, 6, 4, 2, 26, tzinfo=UTC)
SPY, TLT = 756733, 15547841
HELD = {"static-weights": {str(SPY): 66.0, str(TLT): 265.0}}


class HeldRecords(MemoryRecords):
    """Records with holdings, finished intents and booked markers."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[str, dict[str, float]] = {}
        self.done: list[dict[str, Any]] = []
        self.markers: list[dict[str, Any]] = []

    def holdings(self, mode: str) -> dict[str, dict[str, float]]:
        return self.held

    def finished(self, intent=None, mode=None, limit=20, status=None) -> list[dict[str, Any]]:
        found = [r for r in self.done if r["intent"] == intent]
        return sorted(found, key=lambda r: r["finishedAt"], reverse=True)[:limit]

    def booked(self, mode: str, since: Any) -> list[dict[str, Any]]:
        return [m for m in self.markers if m["at"] > since]


def summary(at: datetime, positions: dict[int, float], intent_id: str) -> dict[str, Any]:
    rows = [
        {"conId": c, "symbol": {SPY: "SPY", TLT: "TLT"}[c], "position": q}
        for c, q in positions.items()
    ]
    return {
        "intent": "summary",
        "id": intent_id,
        "status": "succeeded",
        "finishedAt": at,
        "result": {"portfolio": rows},
    }


@pytest.fixture
def site(monkeypatch):
    records = HeldRecords()
    app = create_app(Settings(modes=("paper",), project="test-project"), records)
    app.testing = False
    published: list[dict[str, Any]] = []

    def publish_intent(intent, params, mode, intent_id, ttl, requested_by, timeout):
        body, _ = build_message(intent, params, mode, intent_id, ttl, None, requested_by)
        published.append(body)
        return intent_id

    monkeypatch.setattr("dashboard.routes.portfolio.publish_intent", publish_intent)
    return app.test_client(), records, published


def allocation_after(records: HeldRecords, summary_at: datetime) -> None:
    """The issue's sequence: an allocation that filled SPY 66 and TLT 265 after the summary,
    from a worker that did not yet report the positions it saw."""
    records.held = HELD
    for n, (con_id, quantity) in enumerate(((SPY, 66.0), (TLT, 265.0))):
        at = summary_at + timedelta(seconds=30 + n)
        records.markers.append({"orderRef": f"a:alloc:{con_id}", "at": at, "conId": con_id})
        records.markers[-1]["quantity"] = quantity


def test_summary_then_allocation_is_no_false_alarm(site) -> None:
    client, records, _ = site
    records.done.append(summary(T0, {}, "sum-1"))
    allocation_after(records, T0)
    page = client.get("/holdings").get_data(as_text=True)
    assert 'role="alert"' not in page and "st-failed" not in page and "differs" not in page
    assert "IB positions as of" in page and "2026-12-06 04:02:26 UTC" in page
    assert "2 orders filled since, included" in page
    assert "matches with 1 order filled since" in page
    assert "Run trade-reconciliation" not in page
    assert "A fresh summary confirms them." in page and "Refresh IB positions" in page


def test_the_positions_an_allocation_saw_are_the_picture(site) -> None:
    client, records, _ = site
    records.done.append(summary(T0, {}, "sum-1"))
    allocation_after(records, T0)
    rows = [
        {"symbol": "SPY", "conId": SPY, "position": 66.0},
        {"symbol": "TLT", "conId": TLT, "position": 265.0},
    ]
    seen_at = T0 + timedelta(seconds=40)
    records.done.append(
        {
            "intent": "allocation",
            "id": "alloc-1",
            "status": "succeeded",
            "finishedAt": seen_at + timedelta(seconds=1),
            "result": {"ibPositions": rows, "ibPositionsAt": seen_at.isoformat()},
        }
    )
    page = client.get("/holdings").get_data(as_text=True)
    assert "(allocation <a" in page and "alloc-1" in page and "filled since" not in page
    assert page.count("✓ matches</span>") == 2 and 'role="alert"' not in page


def test_a_position_changed_at_the_broker_shows_the_difference_and_advice(site) -> None:
    client, records, _ = site
    records.done.append(summary(T0, {}, "sum-1"))
    allocation_after(records, T0)
    records.done.append(summary(T0 + timedelta(minutes=5), {SPY: 50.0, TLT: 265.0}, "sum-2"))
    response = client.get("/holdings")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 instrument differs from IB&#39;s positions." in page
    assert "≠ differs by 16" in page and page.count("st-failed") == 1
    assert "trade-reconciliation would not change it" in page
    assert "filled since, included" not in page  # the fills are older than sum-2


def test_refresh_publishes_one_summary_per_click_and_the_page_follows_it(site) -> None:
    client, records, published = site
    form = form_of(client.get("/holdings").get_data(as_text=True))
    assert set(form) == {"csrf", "submission", "mode"}
    first = client.post("/holdings/refresh", data=form)
    again = client.post("/holdings/refresh", data=form)  # a double click
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    intent_id = f"summary-{form['submission']}"
    assert first.headers["Location"].endswith(f"/holdings?mode=paper&refresh={intent_id}")
    assert [(m["intent"], m["id"], m.get("params", {})) for m in published] == [
        ("summary", intent_id, {})
    ]
    waiting = client.get(f"/holdings?refresh={intent_id}", headers={"X-Fragment": "1"})
    assert waiting.headers["X-Terminal"] == "0"
    assert "Refreshing: summary" in waiting.get_data(as_text=True)
    done = summary(T0, {SPY: 1.0}, intent_id)
    records.add("paper", intent_id, **done)
    records.done.append(done)
    landed = client.get(f"/holdings?refresh={intent_id}", headers={"X-Fragment": "1"})
    text = landed.get_data(as_text=True)
    assert landed.headers["X-Terminal"] == "1" and "Refreshing" not in text
    assert "Refreshed by summary" in text  # its status first: the page announces that
    assert "(summary <a" in text and intent_id in text and "≠ differs by -1" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"csrf": "x" * 30}, "security token is missing or out of date"),
        ({"mode": "live"}, "does not publish in &#39;live&#39;"),
        ({"submission": "nope"}, "no valid submission id"),
    ],
)
def test_a_refused_refresh_publishes_nothing(site, change, message) -> None:
    client, _, published = site
    form = form_of(client.get("/holdings").get_data(as_text=True))
    response = client.post("/holdings/refresh", data={**form, **change})
    assert response.status_code == 403 and published == []
    assert message.lower() in response.get_data(as_text=True).lower()


def test_a_bad_refresh_parameter_is_named(site) -> None:
    client, _, _ = site
    response = client.get("/holdings?refresh=..")
    assert response.status_code == 400 and "refresh" not in response.headers.get("Location", "")
    assert "is not" in response.get_data(as_text=True)


def test_a_summary_that_lands_while_the_page_is_read_is_shown_not_missed(site) -> None:
    """The followed summary ends between the page's reads: the page stops following it only
    with its positions shown (the holdings are read after the summary's record)."""
    client, records, _ = site
    records.done.append(summary(T0, {}, "sum-1"))
    allocation_after(records, T0)
    landed = summary(T0 + timedelta(minutes=5), {SPY: 66.0, TLT: 265.0}, "sum-2")

    def lands_now(mode: str, intent_id: str) -> dict[str, Any]:
        records.done.append(landed)  # finished just as the page asks for it
        return {**landed, "tradingMode": mode}

    records.intent = lands_now
    response = client.get("/holdings?refresh=sum-2", headers={"X-Fragment": "1"})
    text = response.get_data(as_text=True)
    assert response.headers["X-Terminal"] == "1"
    assert "(summary <a" in text and "sum-2</a>" in text and "filled since" not in text
