"""Errors of the gateway session; each says whether another attempt could succeed."""

from __future__ import annotations

from worker.registry import IntentFailed


class GatewayError(IntentFailed):
    """The gateway could not be used. `retryable` is False when waiting will not help."""

    def __init__(self, code: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(code, message, retryable=retryable)


class CredentialsError(GatewayError):
    """Credentials are missing or malformed: a person must fix the secret."""

    def __init__(self, message: str) -> None:
        super().__init__("credentials", message, retryable=False)


class GatewayBusy(Exception):
    """Another instance holds the gateway lease; the delivery should come back later (429)."""
