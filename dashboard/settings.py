"""The dashboard's settings, from the environment (documented in docs/operations.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from publisher.records import MODES
from worker.database.deadlines import PAGE_SECONDS


class SettingsError(ValueError):
    """A setting is not valid; the message names it and says what is allowed."""


@dataclass(frozen=True)
class Settings:
    modes: tuple[str, ...] = ("paper",)  # trading modes it may publish for
    live_confirm: str = "LIVE"  # what a person types to publish for live
    project: str = ""
    firestore_timeout: float = PAGE_SECONDS
    publish_timeout: float = 10.0
    poll_seconds: float = 3.0
    iap_audience: str = ""  # IAP's JWT audience; empty: the signed-in user is never recorded

    @property
    def live_allowed(self) -> bool:
        return "live" in self.modes

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw = [m.strip() for m in env.get("DASHBOARD_MODES", "paper").split(",") if m.strip()]
        unknown = [m for m in raw if m not in MODES]
        if unknown or not raw:
            raise SettingsError(
                f"DASHBOARD_MODES={env.get('DASHBOARD_MODES')!r}: expected a comma list of "
                f"{', '.join(MODES)}"
            )
        confirm = env.get("DASHBOARD_LIVE_CONFIRM", "").strip() or "LIVE"
        return cls(
            modes=tuple(m for m in MODES if m in raw),
            live_confirm=confirm,
            project=env.get("GOOGLE_CLOUD_PROJECT", ""),
            firestore_timeout=_seconds(env, "DASHBOARD_FIRESTORE_TIMEOUT_SECONDS", PAGE_SECONDS),
            publish_timeout=_seconds(env, "DASHBOARD_PUBLISH_TIMEOUT_SECONDS", 10.0),
            poll_seconds=_seconds(env, "DASHBOARD_POLL_SECONDS", 3.0),
            iap_audience=_audience(env.get("DASHBOARD_IAP_AUDIENCE", "").strip()),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: expected a number of seconds") from None
    if not 0.1 <= value <= 600:
        raise SettingsError(f"{name}={text!r}: expected 0.1 to 600 seconds")
    return value


AUDIENCE = re.compile(r"^[\x21-\x7e]{1,300}$")  # printable ASCII, no space


def _audience(text: str) -> str:
    if text and not AUDIENCE.match(text):
        raise SettingsError(
            f"DASHBOARD_IAP_AUDIENCE={text[:60]!r}: expected IAP's signed-header audience, e.g. "
            "/projects/NUMBER/locations/REGION/services/SERVICE (IAP on Cloud Run)"
        )
    return text
