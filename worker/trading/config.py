"""Trading config: Firestore `config/common` merged with `config/{mode}` (the mode wins)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class RiskLimits:
    """`config.riskLimits`: checked before any order of an intent goes out."""

    max_notional_per_order: float | None = None
    max_notional_per_intent: float | None = None
    max_orders_per_intent: int | None = None
    allowed_instruments: frozenset[str] | None = field(default=None)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RiskLimits:
        limits = config.get("riskLimits") or {}
        allowed = limits.get("allowedInstruments")
        return cls(
            max_notional_per_order=limits.get("maxNotionalPerOrder"),
            max_notional_per_intent=limits.get("maxNotionalPerIntent"),
            max_orders_per_intent=limits.get("maxOrdersPerIntent"),
            allowed_instruments=frozenset(allowed) if allowed is not None else None,
        )
