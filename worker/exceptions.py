"""Every error the worker's layers hand to one another. A leaf: it imports nothing of the worker,
so any module may import it without forming a circle.

What each error means for the delivery is decided once, in `worker.pipeline` and
`worker.runner`: Rejected -> 200 + `rejected`; IntentFailed -> the intent's terminal status (or a
503 while it is retryable and attempts are left); GatewayBusy -> 429; StoreUnavailable,
PublishFailed and Interrupted -> 503; StoreRefused -> one `failed` result.
"""

from __future__ import annotations

from typing import Any


class WorkerError(Exception):
    """The base of every error the project raises on purpose (but Interrupted, which must not be
    an Exception): `except WorkerError` catches what the worker, the publisher's use of the
    Firestore layer and the dashboard mean, and nothing a bug raised."""


class ConfigError(WorkerError, ValueError):
    """A setting in the environment has a value the worker cannot run with."""


class NotADelivery(WorkerError, ValueError):
    """The HTTP request is not a Pub/Sub delivery at all (answered with 400).

    The message is short and stable (it is the answer); `detail`, for the log only, may quote
    what a library said about the input."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class Rejected(WorkerError, ValueError):
    """The message can never run; it is acked with status `rejected` and this reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class IntentFailed(WorkerError):
    """An intent ended in failure; `retryable` says whether another attempt could succeed."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.result = result or {}  # what the intent found before it failed


class GatewayError(IntentFailed):
    """The gateway could not be used. `retryable` is False when waiting will not help."""

    def __init__(self, code: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(code, message, retryable=retryable)


class CredentialsError(GatewayError):
    """Credentials are missing or malformed: a person must fix the secret."""

    def __init__(self, message: str) -> None:
        super().__init__("credentials", message, retryable=False)


class GatewayBusy(WorkerError):
    """Another instance holds the gateway lease; the delivery should come back later (429)."""


class StoreUnavailable(WorkerError):
    """Firestore could not be reached in time (or refused the caller); the one error of the
    Firestore layer (`worker.database`) for the worker, the publisher and the dashboard alike.
    In the worker, the delivery should be retried."""


class NoCredentials(StoreUnavailable):
    """No Google credentials to reach Firestore with; the message says how to get them."""


class StoreRefused(WorkerError):
    """Firestore refused a write as invalid (a document too large): trying again cannot help,
    so it ends the intent `failed` instead of asking for a redelivery."""


class PublishFailed(WorkerError):
    """The result could not be published in time; the delivery should be retried."""


class Interrupted(BaseException):
    """The attempt was cut short; the intent stays retryable.

    A BaseException, so that `except Exception` in intent code cannot swallow it.
    """

    code = "interrupted"


class DeadlineExceeded(Interrupted):
    code = "deadline"


class ShuttingDown(Interrupted):
    code = "shutdown"
