"""A live login waiting for second-factor approval: seen in IBC's output, told once per attempt.

IBC prints `Second Factor Authentication initiated` when the gateway's login waits for the
approval on IBKR Mobile (ibcalpha.ibc.LoginManager); after a timeout with `--on2fatimeout=restart`
it logs in again, and prints it again: each line is one attempt. Each attempt gets a warning log
line (counted by Cloud Monitoring, `code` `second-factor-waiting`), an audit event on the intent
that asked for the gateway, and, with `NOTIFY_URL` set on the worker, one message to that webhook
(in a thread of its own: the login never waits for it).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.alert_formats import FormatError, Notice, guess_format
from worker.alert_send import NotSent, RetryPolicy, WebhookSender

log = logging.getLogger("worker.gateway")
WAITING = re.compile(r"second factor authentication initiated", re.IGNORECASE)
APPROVAL_SECONDS = 180  # IB's window to approve (IBC's SecondFactorAuthenticationTimeout default)
CODE = "second-factor-waiting"
EVENT = "waiting for second-factor approval"
NOTICE_POLICY = RetryPolicy(retries=2, backoff=1.0)  # within the approval window


@dataclass
class SecondFactorWatch:
    """Reads the gateway's output lines; calls `waiting(attempt)` once per login attempt."""

    waiting: Callable[[int], None]
    attempts: int = 0

    def line(self, text: str) -> None:
        if WAITING.search(text):
            self.attempts += 1
            self.waiting(self.attempts)


def message(seconds: int = APPROVAL_SECONDS) -> str:
    return f"approve the IB login on IBKR Mobile within {seconds} s"


def announcer(
    mode: str,
    audit: Callable[[str, dict[str, Any]], None],
    notify_url: str,
    send: Callable[[str, Notice], None] | None = None,
) -> Callable[[int], None]:
    """What to do for each attempt: log, audit, notify (never raises: the login goes on)."""

    def waiting(attempt: int) -> None:
        text = message()
        log.warning(
            "the %s gateway's login waits for second-factor approval (attempt %d): %s",
            mode,
            attempt,
            text,
            extra={"fields": {"code": CODE, "attempt": attempt}},
        )
        try:
            audit(EVENT, {"attempt": attempt, "approveWithinSeconds": APPROVAL_SECONDS})
        except Exception as exc:  # an audit trail that cannot be written must not stop a login
            log.warning("could not audit the second-factor wait: %s", type(exc).__name__)
        if notify_url:
            notice = Notice(
                title=f"IB {mode} login: {text}",
                text=f"The {mode} worker's IB Gateway login (attempt {attempt}) waits for "
                f"approval: {text}.",
                link="",
                kind=CODE,
                mode=mode,
            )
            threading.Thread(
                target=send or post_notice,
                args=(notify_url, notice),
                name="second-factor",
                daemon=True,
            ).start()

    return waiting


def post_notice(url: str, notice: Notice) -> None:
    """One notice to the webhook `url` (its address never logged); a failure is one log line."""
    sender = WebhookSender(url, guess_format(url), NOTICE_POLICY)
    try:
        sender.send(notice)
    except (NotSent, FormatError) as exc:  # NOTIFY_URL of the worker must be a webhook
        log.warning("%s notice not sent: %s", notice.kind, exc)
    finally:
        sender.close()
