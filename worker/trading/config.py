"""Trading config: Firestore `config/common` merged with `config/{mode}` (the mode wins)."""

from __future__ import annotations

from typing import Any

from worker.database import Database


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(db: Database, mode: str) -> dict[str, Any]:
    common, own = db.collection("config").document("common"), db.collection("config").document(mode)
    found = db.get_all([common, own])
    return _merge(found.get(common.path, {}), found.get(own.path, {}))
