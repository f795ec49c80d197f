"""One way into Firestore: every Firestore client of the worker, the publisher and the dashboard
is made by worker/database, its retry is made there, and no caller reaches past the layer to its
raw client (static checks over the source)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "worker" / "database"
PACKAGES = ("worker", "publisher", "dashboard")


def _sources() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if LAYER not in path.parents:
                found[str(path.relative_to(ROOT))] = path.read_text()
    return found


def _where(pattern: str) -> list[str]:
    compiled = re.compile(pattern)
    return [name for name, text in _sources().items() if compiled.search(text)]


def test_the_sources_are_found() -> None:
    names = _sources()
    assert "worker/store.py" in names and "publisher/records.py" in names
    assert not any(name.startswith("worker/database/") for name in names)


def test_only_the_layer_makes_a_firestore_client() -> None:
    assert _where(r"firestore\.Client\b|firestore_v1\.client\b") == []


def test_only_the_layer_builds_firestore_s_retry() -> None:
    # worker/results.py's Retry is Pub/Sub's (the result's publish), not Firestore's.
    assert _where(r"google\.api_core\.retry\b|\bRetry\(initial=") == ["worker/results.py"]


def test_no_caller_touches_the_raw_client() -> None:
    assert _where(r"\b(db|database|self\.db|store\.db)\.client\b") == []


def test_firestore_down_has_one_name() -> None:
    assert _where(r"class \w*(Records|Firestore)\w*Unavailable\b") == []
    assert _where(r"\b(RecordsUnavailable|FirestoreUnavailable)\b") == []
