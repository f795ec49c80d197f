"""Structured JSON log lines for Cloud Logging, with per-request context and redaction."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_secret_values: re.Pattern[str] | None = None
_SECRET_KEYS = re.compile(
    r"(?i)(\"?(?:password|passwd|pw|secret|token|loginid|userid|user_id|username)\"?\s*[:=]\s*)"
    r"(\"[^\"]*\"|\S+)"
)
# Shorter values cannot be masked wherever they appear without masking ordinary words (every "a"
# in every line); whoever holds such a credential refuses it instead (see credentials.parse).
MIN_SECRET_LENGTH = 3
_configured = False


def register_secret(value: str) -> None:
    """Never let this value appear in a log line or an error message, in any letter case
    (credentials read at run time). Values under MIN_SECRET_LENGTH characters are refused."""
    global _secret_values
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"a secret must have at least {MIN_SECRET_LENGTH} characters to be masked")
    with _secrets_lock:
        if value in _secrets:
            return
        # IGNORECASE matches letter by letter; the case maps that change a string's length
        # (Straße -> STRASSE) are added as values of their own.
        _secrets.update({value, value.upper(), value.lower(), value.casefold()})
        alternatives = sorted(_secrets, key=len, reverse=True)  # the longest match wins
        _secret_values = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)


def redact(text: str) -> str:
    """Mask registered secret values (any letter case) and `password=...`-style pairs."""
    pattern = _secret_values
    if pattern is not None:
        text = pattern.sub("***", text)
    return _SECRET_KEYS.sub(r"\1***", text)


@contextmanager
def context(**fields: str | None) -> Iterator[None]:
    """Attach fields (intentId, messageId, trace) to every log line inside the block."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: str | None) -> None:
    """Add fields to the current context (for values learned mid-request)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


class JsonFormatter(logging.Formatter):
    """One JSON object per line, in the shape Cloud Logging parses from stdout."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry: dict[str, object] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": redact(message),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update({k: redact(v) for k, v in _context.get().items()})
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update({k: _redact_value(v) for k, v in extra.items()})
        return json.dumps(entry, default=str)


def _redact_value(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


def setup(level: int = logging.INFO) -> None:
    """Route all logging to stdout as JSON lines (idempotent)."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "google", "grpc", "ib_async"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def trace_field(header: str | None, project: str | None) -> str | None:
    """`logging.googleapis.com/trace` from an `X-Cloud-Trace-Context: TRACE/SPAN;o=1` header."""
    if not header or not project:
        return None
    trace = header.split("/", 1)[0].strip()
    return f"projects/{project}/traces/{trace}" if trace else None
