"""Trading config: Firestore `config/common` merged with `config/{mode}` (the mode wins), checked
against `schemas/config.schema.json` and against what the worker knows (strategies,
instruments). The source of both documents is `config.yaml` (`python -m publisher config apply`).
"""

from __future__ import annotations

from typing import Any

from worker.config_rules import errors as errors
from worker.config_rules import merge as merge
from worker.database import Database
from worker.exceptions import IntentFailed

APPLY = "set it in config.yaml and run `python -m publisher config apply`"
_MISSING = object()


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
