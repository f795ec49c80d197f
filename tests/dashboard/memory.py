"""A dashboard without the local stack: intents' records held in memory (the reader's interface,
publisher/records.py) and every publish the dashboard would make recorded instead of sent. For
the tests of bad input, which must be refused before anything is read or published."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboard.app import create_app
from dashboard.settings import Settings
from publisher.client import build_message
from publisher.records import IntentQuery, Page, Records
from worker.database import record_key


class MemoryRecords(Records):
    """Records as dicts ({record key: record}, {record key: events}); newest is last added."""

    def __init__(self) -> None:
        super().__init__(client=object())
        self.records: dict[str, dict[str, Any]] = {}
        self.logged: dict[str, list[dict[str, Any]]] = {}

    def add(self, mode: str, intent_id: str, events: list[dict[str, Any]] = (), **fields: Any):
        key = record_key(mode, intent_id)
        self.records[key] = {"id": intent_id, "tradingMode": mode, **fields, "_key": key}
        self.logged[key] = list(events)

    def intent(self, mode: str, intent_id: str) -> dict[str, Any] | None:
        return self.records.get(record_key(mode, intent_id))

    def events(self, mode: str, intent_id: str) -> list[dict[str, Any]]:
        return self.logged.get(record_key(mode, intent_id), [])

    def list_intents(self, query: IntentQuery) -> Page:
        items = [
            r
            for r in reversed(self.records.values())
            if all(
                want is None or r.get(name) == want
                for name, want in (
                    ("tradingMode", query.mode),
                    ("intent", query.intent),
                    ("status", query.status),
                )
            )
        ]
        if query.after is not None:
            keys = [r["_key"] for r in items]
            if query.after not in keys:
                raise LookupError(f"no intent {query.after}")
            items = items[keys.index(query.after) + 1 :]
        more = len(items) > query.limit
        items = items[: query.limit]
        return Page(items, items[-1]["_key"] if more and items else None)

    def finished(self, intent=None, mode=None, limit=20, status=None) -> list[dict[str, Any]]:
        return []

    def holdings(self, mode: str) -> dict[str, dict[str, float]]:
        return {}

    def open_orders(self, mode: str) -> dict[str, dict[str, Any]]:
        return {}

    def booked(self, mode: str, since: Any) -> list[dict[str, Any]]:
        return []

    def config(self, mode: str) -> dict[str, Any]:
        return {}


@dataclass
class Offline:
    """The app's test client, its records, and the messages it published."""

    client: Any
    records: MemoryRecords
    published: list[dict[str, Any]] = field(default_factory=list)


def offline(monkeypatch) -> Offline:
    """A dashboard for paper and live on MemoryRecords; publish_intent recorded, not sent."""
    records = MemoryRecords()
    app = create_app(
        Settings(modes=("paper", "live"), project="test-project", poll_seconds=1.0), records
    )
    app.testing = False  # errors render as pages, as in production
    found = Offline(app.test_client(), records)

    def publish_intent(intent, params, mode, intent_id, ttl, requested_by, timeout):
        # the publisher library's own validation, then the message instead of sending it
        body, _ = build_message(intent, params, mode, intent_id, ttl, None, requested_by)
        found.published.append(body)
        return intent_id

    monkeypatch.setattr("dashboard.routes.publish.publish_intent", publish_intent)
    return found
