"""`python -m worker.gateway.always_on`: the program of the always-on gateway's container (the VM
`deploy/setup.sh --gateway always-on` plans; docs/live-trading.md).

It starts IB Gateway through IBC exactly as the worker's `ibc` launcher does (the credentials from
Secret Manager, IB_CREDENTIALS_JSON or IB_CREDENTIALS_FILE, in an in-memory config.ini; IBC's
AutoRestartTime from GATEWAY_RESTART_TIME) and keeps it running. Two differences: the API accepts
connections from other hosts (the VPC firewall rule lets only the worker's tag reach the port),
and when IBC stops for good the program exits non-zero so that systemd starts it again. SIGTERM
(`docker stop`) stops the gateway and exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from worker import logs
from worker.exceptions import ConfigError, GatewayError
from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import IbcLauncher
from worker.settings import Settings

log = logging.getLogger("worker.gateway")
CHECK_SECONDS = 1.0


class AlwaysOnLauncher(IbcLauncher):
    """IBC for a gateway other hosts connect to: its incoming-connection dialog is accepted."""

    def ini_text(self) -> str:
        # Later keys win in java.util.Properties: this one overrides the template's `reject`.
        return super().ini_text() + "AcceptIncomingConnectionAction=accept\n"


def run(settings: Settings, stop: threading.Event) -> int:
    """Run the gateway until `stop` is set (0) or IBC stops by itself (1)."""
    launcher = AlwaysOnLauncher(settings, CredentialSource(settings))
    log.info(
        "starting the always-on gateway on port %d (daily restart %s New York)",
        launcher.port,
        settings.gateway_restart_time,
    )
    launcher.start()
    try:
        while not stop.wait(CHECK_SECONDS):
            failure = launcher.failure()
            if failure:
                log.error("the gateway stopped: %s\n%s", failure, launcher.log_tail())
                return 1
        log.info("stopping the always-on gateway")
        return 0
    finally:
        launcher.stop()


def main() -> int:
    logs.setup()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        return run(Settings.from_env(), stop)
    except (ConfigError, GatewayError) as exc:  # a bad setting, missing credentials: said once
        log.error("the always-on gateway cannot start: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
