"""The process-wide IB session: lease, launch, connect, reuse while warm, stop when idle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.database import Database
from worker.exceptions import GatewayError
from worker.gateway import connect as connector
from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import Launcher, launcher_for
from worker.gateway.lease import GatewayLease
from worker.gateway.second_factor import SecondFactorWatch
from worker.settings import Settings

log = logging.getLogger("worker.gateway")
HEALTH_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Opened:
    """An IB connection ready for an intent, and how it came to be."""

    ib: Any
    reused: bool
    start_ms: int | None


class GatewaySession:
    """At most one gateway and one connection per process; all use is under `lock`."""

    def __init__(
        self, settings: Settings, db: Database, credentials: CredentialSource | None = None
    ) -> None:
        self.settings = settings
        self.credentials = credentials or CredentialSource(settings)
        self.lease = GatewayLease(
            db, settings.trading_mode, settings.instance_id, settings.gateway_lease_seconds
        )
        self.lock = threading.RLock()
        self.ib: Any = None
        self.launcher: Launcher | None = None
        self._idle: threading.Timer | None = None
        self._idle_round = 0
        self._refresh_credentials = False

    def open(
        self,
        on_second_factor: Callable[[int], None] | None = None,
        within: tuple[float | None, ...] = (),
    ) -> Opened:
        """A connected session: the warm one if it is healthy, else a fresh gateway;
        `on_second_factor(attempt)` is called for each login attempt of a fresh gateway that
        waits for second-factor approval. `within`: seconds left of the intent's deadline and
        TTL; the connection is waited for no longer (then a retryable gateway-not-ready)."""
        with self.lock:
            self._cancel_idle()
            if self.ib is not None:
                if self._healthy():
                    return Opened(self.ib, reused=True, start_ms=None)
                log.warning("the warm gateway session failed its health check; restarting it")
                self.close()
            self.lease.acquire()  # GatewayBusy -> 429
            t0 = time.monotonic()
            try:
                if self._refresh_credentials:
                    self.credentials.refresh()
                    self._refresh_credentials = False
                watch = SecondFactorWatch(on_second_factor) if on_second_factor else None
                self.launcher = launcher_for(
                    self.settings, self.credentials, watch.line if watch else None
                )
                self.launcher.start()
                self.ib = connector.connect(  # logs when it starts waiting and when ready
                    self.launcher,
                    self.settings.gateway_client_id,
                    connector.connect_budget(
                        self.settings.gateway_connect_timeout_seconds, *within
                    ),
                )
            except BaseException as exc:
                if isinstance(exc, GatewayError) and self.settings.gateway_mode == "ibc":
                    self._refresh_credentials = True  # a changed password gets one more try
                self.close()
                raise
            self.ib.gateway_lease = self.lease  # ensure_connected checks it before each order
            start_ms = int((time.monotonic() - t0) * 1000)
            return Opened(self.ib, reused=False, start_ms=start_ms)

    def _healthy(self) -> bool:
        try:
            if not self.ib.isConnected() or getattr(self.ib, "connectivity_lost", False):
                return False
            if self.lease.lost or not self.lease.renew():
                return False
            self.ib.RequestTimeout, timeout = HEALTH_CHECK_SECONDS, self.ib.RequestTimeout
            try:
                self.ib.reqCurrentTime()
            finally:
                self.ib.RequestTimeout = timeout
            return True
        except Exception:
            return False

    def done(self) -> None:
        """After an intent: keep the session warm for GATEWAY_KEEPALIVE_SECONDS, or stop it."""
        keepalive = self.settings.gateway_keepalive_seconds
        with self.lock:
            if keepalive <= 0 or self.ib is None:
                self.close()
                return
            self._idle = threading.Timer(keepalive, self._idle_stop, args=(self._idle_round,))
            self._idle.daemon = True
            self._idle.start()

    def _idle_stop(self, idle_round: int) -> None:
        # Runs on the timer thread. A timer that fired while an intent was taking the session
        # finds the round moved on and leaves the session alone.
        with self.lock:
            if idle_round != self._idle_round or self.ib is None:
                return
            log.info("gateway idle for %d s; stopping it", self.settings.gateway_keepalive_seconds)
            self.close()

    def _cancel_idle(self) -> None:
        self._idle_round += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def close(self) -> None:
        """Disconnect, stop the gateway and release the lease (safe to call twice)."""
        with self.lock:
            self._cancel_idle()
            if self.ib is not None:
                try:
                    self.ib.disconnect()
                except Exception:
                    log.debug("disconnect failed", exc_info=True)
                self.ib = None
            if self.launcher is not None:
                self.launcher.stop()
                self.launcher = None
            self.lease.release()
