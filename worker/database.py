"""The one way the worker touches Firestore: one client, the configured deadline on every call,
and Google's errors mapped to StoreUnavailable (the delivery gets a 503 and comes back).

Conflicts that callers decide on (a document that already exists, a precondition that failed)
pass through as Google's own exceptions, so a claim or a lease can act on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

from worker.exceptions import StoreUnavailable
from worker.settings import Settings

T = TypeVar("T")


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
        """Map every error but a decided-on conflict to StoreUnavailable."""
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
        """Run `work(transaction)` in a transaction, retried on contention."""
        from google.cloud import firestore

        with self.available():
            return firestore.transactional(work)(self.client.transaction())

    def do(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a document method (`ref.set`, `ref.update`, `ref.delete`, `ref.create`) with the
        deadline."""
        with self.available():
            return operation(*args, **kwargs, **self.call)
