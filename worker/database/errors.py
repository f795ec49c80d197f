"""What Google's errors mean to the callers of the Firestore layer: one error for "Firestore is
down" (StoreUnavailable; NoCredentials when there are no credentials to reach it with), one for a
write Firestore refuses as invalid (StoreRefused), and the conflicts a writer decides on itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from worker.exceptions import NoCredentials, StoreRefused, StoreUnavailable

NO_CREDENTIALS = (
    "no Google credentials: run `gcloud auth application-default login` "
    "(or source .devstack/env for the local stack)"
)


@contextmanager
def mapped(what: str = "Firestore", *, decides_conflicts: bool = True) -> Iterator[None]:
    """Google's errors raised inside, as the layer's own.

    With `decides_conflicts` (the worker's writes): a conflict (already exists, precondition
    failed, not found) passes through as Google raised it, for the caller to act on, and an
    invalid request is StoreRefused (trying again cannot help). Without (the publisher's and the
    dashboard's reads and config writes): every error of Google's is StoreUnavailable.
    """
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    conflicts = (
        exceptions.AlreadyExists,
        exceptions.FailedPrecondition,
        exceptions.Conflict,
        exceptions.NotFound,
    )
    try:
        yield
    except conflicts as exc:
        if decides_conflicts:
            raise
        raise unavailable(what, exc) from exc
    except exceptions.InvalidArgument as exc:
        if decides_conflicts:
            raise StoreRefused(f"Firestore refused the write: {first_line(exc)}") from exc
        raise unavailable(what, exc) from exc
    except (exceptions.RetryError, exceptions.GoogleAPICallError) as exc:
        raise unavailable(what, exc) from exc
    except auth_exceptions.DefaultCredentialsError as exc:
        raise NoCredentials(NO_CREDENTIALS) from exc


def unavailable(what: str, cause: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"{what} is not answering ({cause.__class__.__name__})")


def first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0][:200] if text else exc.__class__.__name__
