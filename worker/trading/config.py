"""Trading config: Firestore `config/common` merged with `config/{mode}` (the mode wins), checked
against `schemas/config.schema.json` and against what the worker knows (strategies,
instruments). The source of both documents is `config.yaml` (`python -m publisher config apply`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from worker.database import Database
from worker.exceptions import IntentFailed

SCHEMA = Path(__file__).resolve().parent.parent.parent / "schemas" / "config.schema.json"
APPLY = "set it in config.yaml and run `python -m publisher config apply`"
_MISSING = object()


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(db: Database, mode: str) -> dict[str, Any]:
    """The merged config of `mode`; IntentFailed `config-invalid` naming the first bad key."""
    common, own = db.collection("config").document("common"), db.collection("config").document(mode)
    found = db.get_all([common, own])
    config = merge(found.get(common.path, {}), found.get(own.path, {}))
    problems = errors(config)
    if problems:
        raise IntentFailed(
            "config-invalid",
            f"the trading config (config/common + config/{mode}) is not valid: "
            f"{'; '.join(problems[:3])}; fix config.yaml, then `python -m publisher config apply`",
        )
    return config


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(
    config: Any, strategy_names: list[str] | None = None, *, references: bool = True
) -> list[str]:
    """Every way `config` breaks the schema, each naming its key (`config.riskLimits.x: ...`),
    then (with `references`, for a merged config) keys naming what does not exist: an
    unregistered strategy, an instrument not configured."""
    found = sorted(_validator().iter_errors(config), key=lambda e: e.json_path)
    if found:
        return [_describe(e) for e in found]
    return _references(config, strategy_names) if references else []


def _describe(error: ValidationError) -> str:
    where = "config" + "".join(
        f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
    )
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown key {', '.join(map(repr, extra))} (known: {known})"
    return f"{where}: {error.message}"


def _references(config: dict[str, Any], strategy_names: list[str] | None) -> list[str]:
    if strategy_names is None:
        from worker import strategies

        strategy_names = strategies.names()
    found = []
    for name in (config.get("exposure") or {}).get("strategies") or {}:
        if name not in strategy_names:
            found.append(
                f"config.exposure.strategies.{name}: no strategy {name!r} is registered "
                f"(known: {', '.join(strategy_names)})"
            )
    instruments = config.get("instruments") or {}
    for n, key in enumerate((config.get("marketData") or {}).get("instruments") or []):
        if key not in instruments:
            found.append(
                f"config.marketData.instruments[{n}]: {key!r} is not in config.instruments"
            )
    return found


def require(config: dict[str, Any], path: str) -> Any:
    """The value at dotted `path`; IntentFailed `config-missing` naming it when absent (or an
    empty mapping or list)."""
    value: Any = config
    for part in path.split("."):
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING or value is None or value in ({}, [], ""):
            raise IntentFailed("config-missing", f"config.{path} is missing: {APPLY}")
    return value


RISK_LIMITS = ("maxNotionalPerOrder", "maxNotionalPerIntent", "maxOrdersPerIntent")


def require_risk_limits(config: dict[str, Any]) -> None:
    """No order goes out without the three numeric risk limits."""
    for name in RISK_LIMITS:
        require(config, f"riskLimits.{name}")
