"""IB login credentials: `IB_CREDENTIALS_JSON` (a Cloud Run secret as an environment value),
`IB_CREDENTIALS_FILE` (a secret mounted as a file: Cloud Run's secret volume, a container run
here) or Secret Manager.

The value is `{"userid": ..., "password": ...}`. It is read once per process, both values are
registered with the log redactor, and neither is logged, put on a command line, or included in an
error message. Values that could not be kept safe are refused: control characters (a line break
would add settings to IBC's config.ini) and values too short to be masked in log lines.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker import logs, names
from worker.exceptions import CredentialsError, GatewayError
from worker.gateway.properties import properties_value
from worker.settings import Settings


@dataclass(frozen=True)
class Credentials:
    userid: str
    password: str = field(repr=False)


def parse(raw: bytes | str, source: str) -> Credentials:
    """Credentials from their JSON text; errors name the source, never the content."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CredentialsError(f"{source} is not valid JSON") from None
    if not isinstance(value, dict):
        raise CredentialsError(f'{source} must be a JSON object {{"userid": ..., "password": ...}}')
    missing = [
        k for k in ("userid", "password") if not isinstance(value.get(k), str) or not value[k]
    ]
    if missing:
        raise CredentialsError(f"{source} lacks {' and '.join(missing)} (non-empty strings)")
    for key in ("userid", "password"):
        _check(value[key], key, source)
    credentials = Credentials(userid=value["userid"], password=value["password"])
    for secret in (credentials.userid, credentials.password):
        for form in quoted_forms(secret):
            logs.register_secret(form)
    return credentials


def quoted_forms(value: str) -> set[str]:
    """The value and the forms it takes quoted by a program: a line or a message that quotes it
    escaped must be masked too (a password with `"`, a backslash or an accented letter)."""
    return {
        value,
        json.dumps(value)[1:-1],  # JSON, as Python writes it: non-ASCII as \uxxxx
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],  # an exception or a log line quoting it with %r
        properties_value(value),  # IBC's config.ini as the worker writes it (launchers.py)
        properties_value(value, "=:#!"),  # as java.util.Properties.store writes it
    }


# Cc: C0/C1 controls (line breaks, NUL, escape), Cf: invisible format characters, Cs: lone
# surrogates (JSON can carry them; no file can), Zl/Zp: Unicode line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
MAX_LENGTH = 256


def _check(text: str, key: str, source: str) -> None:
    """Refuse a value that cannot be written or masked safely; the error never shows it."""
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in text):
        raise CredentialsError(
            f"{source}: the {key} contains a control character (a line break, tab or other "
            f"invisible character); IB credentials are printable text: fix the secret"
        )
    if len(text) < logs.MIN_SECRET_LENGTH:
        raise CredentialsError(
            f"{source}: the {key} is shorter than {logs.MIN_SECRET_LENGTH} characters, which "
            f"IB does not issue and the log redactor could not mask: fix the secret"
        )
    if len(text) > MAX_LENGTH:
        raise CredentialsError(
            f"{source}: the {key} is longer than {MAX_LENGTH} characters: fix the secret"
        )


class CredentialSource:
    """Reads the credentials once per process; `refresh()` re-reads after a failed login."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._cached: Credentials | None = None

    @property
    def secret_name(self) -> str:
        mode = self.settings.trading_mode
        secret = self.settings.credentials_secret or names.credentials_secret(mode)
        if secret.startswith("projects/"):
            return (
                secret
                if "/versions/" in secret
                else f"{secret}/versions/{self.settings.credentials_version}"
            )
        project = self.settings.project or "-"
        return f"projects/{project}/secrets/{secret}/versions/{self.settings.credentials_version}"

    def get(self) -> Credentials:
        if self._cached is None:
            self._cached = self._load()
        return self._cached

    def refresh(self) -> Credentials:
        self._cached = None
        return self.get()

    def _load(self) -> Credentials:
        if self.settings.credentials_json:
            return parse(self.settings.credentials_json, "IB_CREDENTIALS_JSON")
        if self.settings.credentials_file is not None:
            return parse(self._read_file(self.settings.credentials_file), "IB_CREDENTIALS_FILE")
        return parse(self._access(), f"secret {self.secret_name}")

    @staticmethod
    def _read_file(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            why = exc.strerror or exc.__class__.__name__
            raise CredentialsError(
                f"IB_CREDENTIALS_FILE {path} cannot be read ({why}): mount the secret there or "
                f"unset IB_CREDENTIALS_FILE"
            ) from None

    def _access(self) -> bytes:
        from google.api_core import exceptions

        name = self.secret_name
        try:
            response = self.client.access_secret_version(request={"name": name}, timeout=15)
        except exceptions.NotFound:
            raise CredentialsError(
                f"secret {name} not found: create it with "
                f"`gcloud secrets create ... --data-file=-` (see the README)"
            ) from None
        except exceptions.PermissionDenied:
            raise CredentialsError(
                f"no access to secret {name}: grant roles/secretmanager.secretAccessor on it "
                f"to the worker's service account"
            ) from None
        except (
            exceptions.ServiceUnavailable,
            exceptions.DeadlineExceeded,
            exceptions.RetryError,
        ) as exc:
            raise GatewayError(
                "secret-manager", f"Secret Manager unavailable ({exc.__class__.__name__})"
            ) from None
        data: bytes = response.payload.data
        return data

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import secretmanager

            endpoint = self.settings.secret_manager_endpoint
            if endpoint:  # a local stand-in (tests): plain-text gRPC, no Google credentials
                import grpc
                from google.auth.credentials import AnonymousCredentials
                from google.cloud.secretmanager_v1.services.secret_manager_service import (
                    transports,
                )

                transport = transports.SecretManagerServiceGrpcTransport(
                    channel=grpc.insecure_channel(endpoint), credentials=AnonymousCredentials()
                )
                self._client = secretmanager.SecretManagerServiceClient(transport=transport)
            else:
                self._client = secretmanager.SecretManagerServiceClient()
        return self._client
