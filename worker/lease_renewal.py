"""Leases: a document field `{owner, expiresAt}` that says who may act, and until when.

An owner that stops renewing its lease (a crashed instance) loses it when it expires; until then
nobody else may take it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger("worker")


def held_by_other(lease: Mapping[str, Any] | None, owner: str, now: datetime) -> bool:
    """True while another owner's lease is live."""
    lease = lease or {}
    return lease.get("owner") not in (None, owner) and lease.get("expiresAt", now) > now


class Renewer:
    """Calls `renew()` every `interval` seconds on a daemon thread until `stop()`, or until
    `renew()` answers False (the lease is gone). A failed renewal is logged and tried again at
    the next interval: the lease then expires on its own, which is safe."""

    def __init__(self, name: str, interval: float, renew: Callable[[], bool]) -> None:
        self.name = name
        self.interval = interval
        self._renew = renew
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Renewer:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self._renew():
                    return
            except Exception as exc:
                log.warning("renewing the %s failed: %s", self.name, exc.__class__.__name__)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
