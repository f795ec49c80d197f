"""Worker configuration: every setting, read once from the environment."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from worker import __version__

TRADING_MODES = ("paper", "live")


class ConfigError(ValueError):
    """A setting has a value the worker cannot run with."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the worker needs to know about where and how it runs."""

    trading_mode: str = "paper"
    project: str | None = None
    results_topic: str = "intent-results"
    service: str = "local"
    revision: str = "local"
    version: str = __version__
    max_attempts: int = 5
    intent_deadline_seconds: int = 480
    lease_seconds: int = 600
    max_message_bytes: int = 64 * 1024
    record_ttl_days: int = 30
    firestore_timeout_seconds: float = 10.0
    publish_timeout_seconds: float = 10.0
    schemas_dir: Path = Path(__file__).resolve().parent.parent / "schemas"
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        mode = env.get("TRADING_MODE", "paper").strip().lower() or "paper"
        if mode not in TRADING_MODES:
            raise ConfigError(f"TRADING_MODE must be 'paper' or 'live', got {mode!r}")
        schemas = env.get("SCHEMAS_DIR")
        return cls(
            trading_mode=mode,
            project=env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or None,
            results_topic=env.get("RESULTS_TOPIC", "intent-results"),
            service=env.get("K_SERVICE", "local"),
            revision=env.get("K_REVISION", "local"),
            max_attempts=_int(env, "MAX_ATTEMPTS", 5, minimum=1),
            intent_deadline_seconds=_int(env, "INTENT_DEADLINE_SECONDS", 480, minimum=1),
            lease_seconds=_int(env, "LEASE_SECONDS", 600, minimum=1),
            max_message_bytes=_int(env, "MAX_MESSAGE_BYTES", 64 * 1024, minimum=1),
            record_ttl_days=_int(env, "INTENT_RECORD_TTL_DAYS", 30, minimum=1),
            firestore_timeout_seconds=_float(env, "FIRESTORE_TIMEOUT_SECONDS", 10.0),
            publish_timeout_seconds=_float(env, "PUBLISH_TIMEOUT_SECONDS", 10.0),
            schemas_dir=Path(schemas) if schemas else cls.schemas_dir,
        )

    @property
    def worker_info(self) -> dict[str, str]:
        return {"service": self.service, "revision": self.revision, "version": self.version}


@cache
def settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
