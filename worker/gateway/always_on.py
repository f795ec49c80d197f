"""`python -m worker.gateway.always_on`: the program of the always-on gateway's container (the VM
`deploy/setup.sh --gateway always-on` plans; docs/live-trading.md).

It starts IB Gateway through IBC exactly as the worker's `ibc` launcher does (the credentials from
Secret Manager, IB_CREDENTIALS_JSON or IB_CREDENTIALS_FILE, in an in-memory config.ini; IBC's
AutoRestartTime from GATEWAY_RESTART_TIME) and keeps it running. The differences: the API accepts
connections from other hosts (the VPC firewall rule lets only the worker's tag reach the port);
IBC closes the gateway once a week after IB's token expiry (ClosedownAt from
GATEWAY_WEEKLY_CLOSEDOWN), and when IBC stops, for that or any reason, the program exits non-zero
so that systemd starts it again, with a fresh login and its push; with NOTIFY_URL, or the secret
NOTIFY_URL_SECRET names (notify_secret.py), it tells the user ahead of that closedown and when a
login waits for approval (approval_notices.py).
SIGTERM (`docker stop`) stops the gateway and exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from worker import logs
from worker.exceptions import ConfigError, GatewayError
from worker.gateway import approval_notices, notify_secret, second_factor
from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import IbcLauncher
from worker.gateway.properties import properties_value
from worker.settings import Settings

log = logging.getLogger("worker.gateway")
CHECK_SECONDS = 1.0


class AlwaysOnLauncher(IbcLauncher):
    """IBC for a gateway other hosts connect to: its incoming-connection dialog is accepted."""

    def ini_text(self) -> str:
        # Later keys win in java.util.Properties: ours override the template's. IBC's reference
        # (config.ini, sections 4 and 5): ClosedownAt (`dayOfWeek hh:mm`, local time) closes the
        # gateway with no restart and goes with AutoRestartTime; AutoLogoffTime excludes
        # AutoRestartTime and ColdRestartTime would be a second Sunday restart, so both are blank.
        closedown = self.settings.gateway_calendar.ibc_closedown_at(datetime.now(UTC))
        return super().ini_text() + "".join(
            [
                "AcceptIncomingConnectionAction=accept\n",
                "AutoLogoffTime=\n",
                "ColdRestartTime=\n",
                f"ClosedownAt={properties_value(closedown)}\n",
            ]
        )


def _no_audit(kind: str, detail: dict[str, Any]) -> None:
    """The always-on gateway has no intent record: its log line is the record."""


def run(
    settings: Settings,
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Run the gateway until `stop` is set (0) or IBC stops by itself (1)."""
    mode, credentials = settings.trading_mode, CredentialSource(settings)
    url = notify_secret.notify_url(settings, credentials)
    waiting = approval_notices.WaitingOnce(second_factor.announcer(mode, _no_audit, url), clock)
    launcher = AlwaysOnLauncher(
        settings, credentials, second_factor.SecondFactorWatch(waiting).line
    )
    calendar, started = settings.gateway_calendar, clock()
    reminder = approval_notices.ApprovalReminder(
        calendar, timedelta(hours=settings.gateway_approval_notice_hours), started
    )
    log.info(
        "starting the always-on gateway on port %d (daily restart %s, weekly closedown %s, "
        "New York)",
        launcher.port,
        settings.gateway_restart_time,
        settings.gateway_weekly_closedown,
    )
    launcher.start()
    try:
        while not stop.wait(CHECK_SECONDS):
            closedown = reminder.due(clock())
            if closedown is not None:
                _remind(mode, closedown, url)
            failure = launcher.failure()
            if failure and calendar.just_closed_down(clock(), started):
                log.info("the weekly closedown stopped the gateway: exiting for a fresh login")
                return 1
            if failure:
                log.error("the gateway stopped: %s\n%s", failure, launcher.log_tail())
                return 1
        log.info("stopping the always-on gateway")
        return 0
    finally:
        launcher.stop()


def _remind(mode: str, closedown: datetime, notify_url: str) -> None:
    notice = approval_notices.reminder_notice(mode, closedown)
    log.warning(
        "%s",
        notice.text,
        extra={
            "fields": {"code": approval_notices.REMINDER_CODE, "closedown": closedown.isoformat()}
        },
    )
    if notify_url:
        threading.Thread(
            target=second_factor.post_notice,
            args=(notify_url, notice),
            name="approval-reminder",
            daemon=True,
        ).start()


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
