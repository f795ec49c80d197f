"""The one way the worker touches Firestore: one client, the configured deadline on every call
(a transaction's calls share one), and Google's errors mapped to StoreUnavailable (the delivery
gets a 503 and comes back) or, for a write Firestore refuses as invalid, StoreRefused.

Conflicts that callers decide on (a document that already exists, a precondition that failed)
pass through as Google's own exceptions, so a claim or a lease can act on them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

from worker.exceptions import StoreRefused, StoreUnavailable
from worker.settings import Settings

T = TypeVar("T")
log = logging.getLogger("worker.store")


class Database:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @cached_property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import firestore

            self._client = firestore.Client(project=self.settings.project)
        return self._client

    @cached_property
    def call(self) -> dict[str, Any]:
        """Keyword arguments for every Firestore call: retry transient errors within the
        deadline, never longer."""
        from google.api_core.retry import Retry

        deadline = self.settings.firestore_timeout_seconds
        return {
            "retry": Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=deadline),
            "timeout": deadline,
        }

    def collection(self, *path: str) -> Any:
        return self.client.collection(*path)

    def document(self, *path: str) -> Any:
        return self.client.document(*path)

    @contextmanager
    def available(self, what: str = "Firestore") -> Iterator[None]:
        """Map every error but a decided-on conflict to StoreUnavailable, or to StoreRefused
        when Firestore says the request itself is invalid (retrying it cannot help)."""
        from google.api_core import exceptions

        passes = (
            exceptions.AlreadyExists,
            exceptions.FailedPrecondition,
            exceptions.Conflict,
            exceptions.NotFound,
        )
        try:
            yield
        except passes:
            raise
        except exceptions.InvalidArgument as exc:
            raise StoreRefused(f"Firestore refused the write: {_first_line(exc)}") from exc
        except (exceptions.RetryError, exceptions.GoogleAPICallError) as exc:
            raise StoreUnavailable(f"{what} unavailable: {exc.__class__.__name__}") from exc

    def get(self, ref: Any) -> Any:
        with self.available():
            return ref.get(**self.call)

    def get_all(self, refs: list[Any]) -> dict[str, dict[str, Any]]:
        """{path: data} of the documents that exist, in one round trip."""
        with self.available():
            return {
                snap.reference.path: snap.to_dict() or {}
                for snap in self.client.get_all(refs, **self.call)
                if snap.exists
            }

    def stream(self, query: Any) -> list[Any]:
        with self.available():
            return list(query.stream(**self.call))

    def commit(self, batch: Any) -> list[Any]:
        with self.available():
            return batch.commit(**self.call)

    def transact(self, work: Callable[[Any], T]) -> T:
        """Run `work(transaction)` in a transaction, begun again while it is contended, all
        within the configured deadline: every call of every try gets what is left of it."""
        from google.api_core import exceptions
        from google.cloud import firestore

        seconds = self.settings.firestore_timeout_seconds
        ends = time.monotonic() + seconds
        with self.available("Firestore transaction"):
            while True:
                try:
                    return firestore.transactional(work)(_bounded_transaction(self.client, ends))
                except (ValueError, exceptions.Aborted) as exc:
                    aborted = exc if isinstance(exc, exceptions.Aborted) else exc.__cause__
                    if not isinstance(aborted, exceptions.Aborted):
                        raise
                except exceptions.InvalidArgument as exc:
                    # A retried commit can find its transaction expired: begin a new one. Any
                    # other invalid request (a document too large) is refused for good.
                    if "transaction" not in _first_line(exc).lower():
                        raise
                if time.monotonic() >= ends:
                    raise StoreUnavailable(
                        f"Firestore transaction still contended after {seconds}s"
                    )

    def do(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a document method (`ref.set`, `ref.update`, `ref.delete`, `ref.create`) with the
        deadline."""
        with self.available():
            return operation(*args, **kwargs, **self.call)


def _first_line(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


def _bounded_transaction(client: Any, ends: float) -> Any:
    """A transaction of one try whose every call (begin, reads, commit, rollback) waits at most
    until `ends` (google-cloud-firestore gives begin, commit and rollback no timeout)."""
    from google.cloud.firestore_v1.transaction import Transaction

    def call(grace: float = 0.0) -> dict[str, Any]:
        from google.api_core import exceptions
        from google.api_core.retry import Retry

        left = max(ends - time.monotonic(), grace)
        if left <= 0:
            raise exceptions.DeadlineExceeded("the Firestore deadline passed")
        retry = Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=left)
        return {"retry": retry, "timeout": left}

    class Bounded(Transaction):
        def get_all(
            self, references: Any, retry: Any = None, timeout: Any = None, **kw: Any
        ) -> Any:
            return super().get_all(references, **call(), **kw)

        def get(self, ref_or_query: Any, retry: Any = None, timeout: Any = None, **kw: Any) -> Any:
            return super().get(ref_or_query, **call(), **kw)

        def _rollback(self) -> None:
            # Best effort, and never in place of the error that made it roll back: a begin that
            # failed left nothing to roll back (the library raised ValueError for it).
            if not self.in_progress:
                return
            try:
                super()._rollback()
            except Exception as exc:  # the try's own error is the one to raise
                log.warning("a Firestore rollback failed: %s", exc.__class__.__name__)

    return Bounded(_DeadlineClient(client, call), max_attempts=1)


class _DeadlineClient:
    """The client as a transaction sees it: its API calls get `call()`'s retry and timeout."""

    def __init__(self, client: Any, call: Callable[[float], dict[str, Any]]) -> None:
        self._client = client
        self._call = call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def _firestore_api(self) -> Any:
        return _DeadlineApi(self._client._firestore_api, self._call)


class _DeadlineApi:
    def __init__(self, api: Any, call: Callable[[float], dict[str, Any]]) -> None:
        self._api = api
        self._call = call

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._api, name)
        if not callable(method):
            return method
        # A rollback frees what the try holds: it gets a second even past the deadline.
        grace = 1.0 if name == "rollback" else 0.0
        return lambda *args, **kwargs: method(*args, **{**self._call(grace), **kwargs})
