"""Where the always-on gateway sends its notices: `NOTIFY_URL`, else the Secret Manager secret
`NOTIFY_URL_SECRET` names (the VM's metadata holds only that name, its service account may read
that secret: deploy/cloud/gateway_vm.py with --notifier). The address is a secret: masked in every
log line once read, never logged. Not reading it costs the notices, never the gateway: one
warning and the gateway runs on without them (its log lines still carry the codes).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from worker import logs
from worker.gateway.credentials import CredentialSource
from worker.settings import Settings

log = logging.getLogger("worker.gateway")


def secret_path(settings: Settings, secret: str) -> str:
    if secret.startswith("projects/"):
        return secret if "/versions/" in secret else f"{secret}/versions/latest"
    return f"projects/{settings.project or '-'}/secrets/{secret}/versions/latest"


def notify_url(settings: Settings, source: CredentialSource) -> str:
    """The webhook address, or "" (no notices)."""
    if settings.notify_url or not settings.notify_url_secret:
        return settings.notify_url
    path = secret_path(settings, settings.notify_url_secret)
    try:
        answer = source.client.access_secret_version(request={"name": path}, timeout=15)
        url = bytes(answer.payload.data).decode("utf-8").strip()
    except Exception as exc:  # any failure: the gateway matters more than its notices
        log.warning("no notices: secret %s cannot be read (%s)", path, type(exc).__name__)
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        log.warning("no notices: secret %s holds no webhook address (http or https)", path)
        return ""
    logs.register_secret(url)
    return url
