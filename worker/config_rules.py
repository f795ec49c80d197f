"""The trading config's rules, shared by the worker (which reads the config) and the publisher
(which applies `config.yaml`): `config/common` merged with `config/{mode}` (the mode wins), and
every way a config breaks `schemas/config.schema.json` or names what does not exist.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.json"


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


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
