"""`python -m worker.gateway.always_on`: IB Gateway kept running for workers in `external` mode
(the always-on gateway's container; `make up GATEWAY=container` locally).

The gateway is started exactly as the worker starts it (the `ibc` launcher: Xvfb, the in-memory
config.ini, IBC's ibcstart.sh, the process clean-up), with the same settings (GATEWAY_MODE=ibc,
IB_GATEWAY_PORT, IB_CREDENTIALS_FILE / IB_CREDENTIALS_JSON / Secret Manager). When it exits it is
started again after a backoff (1 s doubling to 60 s, back to 1 s once it ran for 10 minutes):
IBC restarts the gateway itself at its daily AutoRestartTime, so an exit here is a crash or a cold
restart, which on a live account needs the second factor again. SIGTERM or SIGINT stops the
gateway and everything it started, then exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

from worker import logs
from worker.exceptions import ConfigError, IntentFailed
from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import IbcLauncher
from worker.settings import Settings

log = logging.getLogger("worker.gateway")
STEADY_SECONDS = 600.0  # a run this long resets the backoff
MAX_BACKOFF_SECONDS = 60.0


def next_backoff(previous: float, ran_for: float) -> float:
    """The wait before the next start: doubling from 1 s to 60 s, 1 s after a steady run."""
    if ran_for >= STEADY_SECONDS:
        return 1.0
    return min(MAX_BACKOFF_SECONDS, max(1.0, previous * 2))


def keep_running(
    launcher: IbcLauncher,
    stopping: threading.Event,
    clock: Callable[[], float],
    poll_seconds: float = 0.5,
) -> int:
    """Start the gateway, start it again whenever it exits, until `stopping` is set; the number of
    starts."""
    starts, backoff = 0, 0.5
    try:
        while not stopping.is_set():
            launcher.start()
            starts += 1
            started = clock()
            log.info("gateway started (start %d) on port %d", starts, launcher.port)
            while not stopping.wait(poll_seconds):
                if launcher.failure() is not None:
                    break
            if stopping.is_set():
                break
            ran_for = clock() - started
            backoff = next_backoff(backoff, ran_for)
            log.warning(
                "gateway gone after %.0f s (%s); starting it again in %.0f s",
                ran_for,
                launcher.failure(),
                backoff,
            )
            launcher.stop()
            stopping.wait(backoff)
    finally:
        launcher.stop()
    return starts


def main() -> int:
    logs.setup()
    try:
        settings = Settings.from_env()
        if settings.gateway_mode != "ibc":
            raise ConfigError("the always-on gateway runs IB Gateway through IBC: GATEWAY_MODE=ibc")
        launcher = IbcLauncher(settings, CredentialSource(settings))
    except (ConfigError, IntentFailed) as exc:
        log.error("the always-on gateway cannot start: %s", exc)
        return 2
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        log.info("%s: stopping the gateway", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        keep_running(launcher, stopping, time.monotonic)
    except IntentFailed as exc:
        log.error("the always-on gateway stopped: %s", exc)
        return 1
    log.info("gateway stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
