"""`Database`: the one Firestore client of a process and every call it makes, each with the
deadline (a transaction's calls share one) and the layer's one retry, and Google's errors mapped
(`worker.database.errors`): StoreUnavailable when Firestore is down, StoreRefused for a write it
refuses as invalid. Callers get operations, never the raw client.

The worker's Database passes the conflicts it decides on (a document that already exists, a
precondition that failed) through as Google's own exceptions, so a claim or a lease can act on
them; a reader's (`decides_conflicts=False`: the publisher, the dashboard) turns every error into
StoreUnavailable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, TypeVar

from worker.database import deadlines, errors, transaction
from worker.database.deadlines import CallOptions
from worker.exceptions import StoreUnavailable

T = TypeVar("T")


class Target(Protocol):
    """Which project, and the deadline of each call (the worker's Settings is one)."""

    @property
    def project(self) -> str | None: ...

    @property
    def firestore_timeout_seconds(self) -> float: ...


@dataclass(frozen=True)
class Options:
    """A Target for a process without the worker's Settings (the publisher, the dashboard)."""

    project: str | None = None
    firestore_timeout_seconds: float = deadlines.CALL_SECONDS


class Database:
    def __init__(
        self, settings: Target, client: Any = None, *, decides_conflicts: bool = True
    ) -> None:
        self.settings = settings
        self._client = client
        self.decides_conflicts = decides_conflicts

    @cached_property
    def client(self) -> Any:
        """The raw client, for instrumentation (bench/counts.py) only: callers use the
        operations below."""
        if self._client is None:
            from google.cloud import firestore

            with self.available():  # the credentials are looked up here
                self._client = firestore.Client(project=self.settings.project)
        return self._client

    @cached_property
    def call(self) -> CallOptions:
        """Keyword arguments for every Firestore call: retry transient errors within the
        deadline, never longer."""
        return deadlines.call_options(self.settings.firestore_timeout_seconds)

    @contextmanager
    def available(self, what: str = "Firestore") -> Iterator[None]:
        with errors.mapped(what, decides_conflicts=self.decides_conflicts):
            yield

    # -- references and writes built locally (no call) -----------------------------------

    def collection(self, *path: str) -> Any:
        return self.client.collection(*path)

    def document(self, *path: str) -> Any:
        return self.client.document(*path)

    def batch(self) -> Any:
        """A write batch, sent with `commit`."""
        return self.client.batch()

    def unchanged_since(self, update_time: Any) -> Any:
        """The precondition of a write: the document is as it was at `update_time`."""
        return self.client.write_option(last_update_time=update_time)

    # -- calls ---------------------------------------------------------------------------

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
            return list(batch.commit(**self.call))

    def do(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a document method (`ref.set`, `ref.update`, `ref.delete`, `ref.create`) with the
        deadline."""
        with self.available():
            return operation(*args, **kwargs, **self.call)

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
                    done: T = firestore.transactional(work)(transaction.bounded(self.client, ends))
                    return done
                except (ValueError, exceptions.Aborted) as exc:
                    aborted = exc if isinstance(exc, exceptions.Aborted) else exc.__cause__
                    if not isinstance(aborted, exceptions.Aborted):
                        raise
                except exceptions.InvalidArgument as exc:
                    # A retried commit can find its transaction expired: begin a new one. Any
                    # other invalid request (a document too large) is refused for good.
                    if "transaction" not in errors.first_line(exc).lower():
                        raise
                if time.monotonic() >= ends:
                    raise StoreUnavailable(
                        f"Firestore transaction still contended after {seconds}s"
                    )
