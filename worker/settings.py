"""Worker configuration: every setting, read once from the environment."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from worker import __version__, names
from worker.database.deadlines import CALL_SECONDS
from worker.exceptions import ConfigError
from worker.gateway.restarts import GatewayCalendar
from worker.names import TRADING_MODES

GATEWAY_MODES = ("ibc", "external", "simulator")


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


def _float(env: dict[str, str], name: str, default: float, allow_zero: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>=' if allow_zero else '>'} 0, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the worker needs to know about where and how it runs."""

    trading_mode: str = "paper"
    project: str | None = None
    results_topic: str = names.RESULTS_TOPIC
    service: str = "local"
    revision: str = "local"
    version: str = __version__
    max_attempts: int = 5
    intent_deadline_seconds: int = 480
    lease_seconds: int = 60
    max_message_bytes: int = 64 * 1024
    record_ttl_days: int = 30
    firestore_timeout_seconds: float = CALL_SECONDS
    publish_timeout_seconds: float = 10.0
    schemas_dir: Path = Path(__file__).resolve().parent.parent / "schemas"
    gateway_mode: str = "ibc"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 4002
    gateway_keepalive_seconds: int = 0
    gateway_connect_timeout_seconds: float = 120.0
    gateway_restart_time: str = "23:15"  # New York; IBC's daily AutoRestartTime
    gateway_weekly_approval: str = "Sun 01:00"  # New York; IB's weekly token expiry
    gateway_weekly_closedown: str = "Sun 03:00"  # New York; IBC's ClosedownAt (fresh login)
    gateway_approval_notice_hours: float = 3.0  # tell the user this long before the closedown
    gateway_client_id: int = 1
    gateway_lease_seconds: int = 60
    simulator_boot_delay: float = 0.0
    simulator_state: Path | None = None
    simulator_control_port: int | None = None
    simulator_persist: Path | None = None
    credentials_json: str | None = field(default=None, repr=False)
    credentials_file: Path | None = None
    credentials_secret: str | None = None
    credentials_version: str = "latest"
    secret_manager_endpoint: str | None = None
    ibc_path: Path = Path("/opt/ibc")
    ibc_ini: Path = Path("/opt/ibc/config.ini.template")
    tws_path: Path = Path("/opt/ibgateway")
    gateway_version_file: Path | None = None  # default: tws_path/VERSION
    tws_settings_path: Path = Path("/home/ib/Jts")
    java_path: Path | None = None
    ibc_2fa_timeout_action: str = "restart"
    # A webhook for the worker's own notices (a login waiting for approval); a secret.
    notify_url: str = field(default="", repr=False)
    # or the Secret Manager secret holding it (the always-on VM: a name in its metadata)
    notify_url_secret: str | None = None
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        mode = env.get("TRADING_MODE", "paper").strip().lower() or "paper"
        if mode not in TRADING_MODES:
            raise ConfigError(f"TRADING_MODE must be 'paper' or 'live', got {mode!r}")
        schemas = env.get("SCHEMAS_DIR")
        gateway = env.get("GATEWAY_MODE", "ibc").strip().lower() or "ibc"
        if gateway not in GATEWAY_MODES:
            raise ConfigError(
                f"GATEWAY_MODE must be one of {', '.join(GATEWAY_MODES)}, got {gateway!r}"
            )
        default_port = 4002 if mode == "paper" else 4001
        deadline = _int(env, "INTENT_DEADLINE_SECONDS", 480, minimum=1)
        restart = env.get("GATEWAY_RESTART_TIME", "23:15")
        approval = env.get("GATEWAY_WEEKLY_APPROVAL", "Sun 01:00")
        closedown = env.get("GATEWAY_WEEKLY_CLOSEDOWN") or "Sun 03:00"  # unset metadata: ""
        notice_hours = _float(env, "GATEWAY_APPROVAL_NOTICE_HOURS", 3.0, allow_zero=True)
        if not 0 <= notice_hours < 7 * 24:  # NaN and a week or more too
            raise ConfigError(
                f"GATEWAY_APPROVAL_NOTICE_HOURS must be from 0 (no notice) to under a week, "
                f"got {notice_hours}"
            )
        try:
            GatewayCalendar.parse(restart, approval, closedown)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            trading_mode=mode,
            project=env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or None,
            results_topic=env.get("RESULTS_TOPIC", names.RESULTS_TOPIC),
            service=env.get("K_SERVICE", "local"),
            revision=env.get("K_REVISION", "local"),
            max_attempts=_int(env, "MAX_ATTEMPTS", 5, minimum=1),
            intent_deadline_seconds=deadline,
            # Renewed every third of it while the intent runs: a dead owner loses it this fast.
            lease_seconds=_int(env, "LEASE_SECONDS", 60, minimum=6),
            max_message_bytes=_int(env, "MAX_MESSAGE_BYTES", 64 * 1024, minimum=1),
            record_ttl_days=_int(env, "INTENT_RECORD_TTL_DAYS", 30, minimum=1),
            firestore_timeout_seconds=_float(env, "FIRESTORE_TIMEOUT_SECONDS", CALL_SECONDS),
            publish_timeout_seconds=_float(env, "PUBLISH_TIMEOUT_SECONDS", 10.0),
            schemas_dir=Path(schemas) if schemas else cls.schemas_dir,
            gateway_mode=gateway,
            gateway_host=env.get("IB_GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_int(env, "IB_GATEWAY_PORT", default_port, minimum=1),
            gateway_keepalive_seconds=_int(env, "GATEWAY_KEEPALIVE_SECONDS", 0),
            gateway_connect_timeout_seconds=_float(env, "GATEWAY_CONNECT_TIMEOUT_SECONDS", 120.0),
            gateway_restart_time=restart,
            gateway_weekly_approval=approval,
            gateway_weekly_closedown=closedown,
            gateway_approval_notice_hours=notice_hours,
            gateway_client_id=_int(env, "IB_CLIENT_ID", 1, minimum=0),
            gateway_lease_seconds=_int(env, "GATEWAY_LEASE_SECONDS", 60, minimum=6),
            simulator_boot_delay=_float(env, "SIMULATOR_BOOT_DELAY", 0.0, allow_zero=True),
            simulator_state=Path(env["SIMULATOR_STATE"]) if env.get("SIMULATOR_STATE") else None,
            simulator_control_port=_int(env, "SIMULATOR_CONTROL_PORT", 0) or None,
            simulator_persist=Path(env["SIMULATOR_PERSIST"])
            if env.get("SIMULATOR_PERSIST")
            else None,
            credentials_json=env.get("IB_CREDENTIALS_JSON") or None,
            credentials_file=Path(env["IB_CREDENTIALS_FILE"])
            if env.get("IB_CREDENTIALS_FILE")
            else None,
            credentials_secret=env.get("IB_CREDENTIALS_SECRET") or names.credentials_secret(mode),
            credentials_version=env.get("IB_CREDENTIALS_VERSION", "latest"),
            secret_manager_endpoint=env.get("SECRET_MANAGER_ENDPOINT") or None,
            ibc_path=Path(env.get("IBC_PATH", "/opt/ibc")),
            ibc_ini=Path(env.get("IBC_INI", "/opt/ibc/config.ini.template")),
            tws_path=Path(env.get("TWS_PATH", "/opt/ibgateway")),
            gateway_version_file=Path(env["IB_GATEWAY_VERSION_FILE"])
            if env.get("IB_GATEWAY_VERSION_FILE")
            else None,
            tws_settings_path=Path(env.get("TWS_SETTINGS_PATH", "/home/ib/Jts")),
            java_path=Path(env["JAVA_PATH"]) if env.get("JAVA_PATH") else None,
            ibc_2fa_timeout_action=env.get("IBC_2FA_TIMEOUT_ACTION", "restart"),
            notify_url=env.get("NOTIFY_URL", ""),
            notify_url_secret=env.get("NOTIFY_URL_SECRET") or None,
        )

    @property
    def gateway_calendar(self) -> GatewayCalendar:
        return GatewayCalendar.parse(
            self.gateway_restart_time, self.gateway_weekly_approval, self.gateway_weekly_closedown
        )

    @property
    def worker_info(self) -> dict[str, str]:
        return {"service": self.service, "revision": self.revision, "version": self.version}


@cache
def settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
