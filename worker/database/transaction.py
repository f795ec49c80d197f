"""A Firestore transaction bounded by one deadline: every call of it (begin, reads, commit,
rollback) gets what is left, with the layer's one retry (google-cloud-firestore gives begin,
commit and rollback no timeout of their own)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from worker.database.deadlines import CallOptions, call_options

log = logging.getLogger("worker.store")


def bounded(client: Any, ends: float) -> Any:
    """A transaction of one try whose every call waits at most until `ends` (monotonic)."""
    from google.cloud.firestore_v1.transaction import Transaction

    def call(grace: float = 0.0) -> CallOptions:
        from google.api_core import exceptions

        left = max(ends - time.monotonic(), grace)
        if left <= 0:
            raise exceptions.DeadlineExceeded("the Firestore deadline passed")
        return call_options(left)

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

    def __init__(self, client: Any, call: Callable[[float], CallOptions]) -> None:
        self._client = client
        self._call = call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def _firestore_api(self) -> Any:
        return _DeadlineApi(self._client._firestore_api, self._call)


class _DeadlineApi:
    def __init__(self, api: Any, call: Callable[[float], CallOptions]) -> None:
        self._api = api
        self._call = call

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._api, name)
        if not callable(method):
            return method
        # A rollback frees what the try holds: it gets a second even past the deadline.
        grace = 1.0 if name == "rollback" else 0.0
        return lambda *args, **kwargs: method(*args, **{**self._call(grace), **kwargs})
