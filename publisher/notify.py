"""`python -m publisher notify --to URL [--on failed,rejected,...]`: one message per result that
reports trouble, posted to a webhook (Slack, Discord, ntfy, Telegram) or sent by email.

It follows `intent-results` through a subscription of its own (`intent-results-notify` unless
--subscription says otherwise) that outlives it, so results published while it was stopped are
told when it starts again. A result is acknowledged once its message went out or every retry
failed (then a log line says so): none is retried forever. The same result delivered twice
(Pub/Sub delivers at least once; a worker may publish a result again after a crash) is one
message: alerts are deduplicated by (id, tradingMode, messageId).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from publisher.notify_send import EmailSender, SmtpSettings
from worker.alert_formats import (
    CATEGORIES,
    Category,
    Format,
    FormatError,
    alert,
    shown,
    telegram_chat,
)
from worker.alert_send import NotSent, RetryPolicy, Sender, WebhookSender
from worker.names import RESULTS_TOPIC

SUBSCRIPTION = "intent-results-notify"
REMEMBERED = 10_000  # alert keys kept for deduplication
URL_VARIABLE = "NOTIFY_URL"  # where a secret webhook address is better kept than on a command line
Outcome = Literal["sent", "duplicate", "ignored", "not-sent"]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Notifier:
    """Decides for each result whether to send, and sends through `sender`."""

    sender: Sender
    on: frozenset[Category] = frozenset(CATEGORIES)
    dashboard: str = ""
    say: Callable[[str], None] = _say
    verbose: bool = False
    _seen: OrderedDict[tuple[str, str, str], None] = field(default_factory=OrderedDict)
    # One result at a time: the same result pushed twice at once is still one message.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, result: dict[str, Any]) -> Outcome:
        with self._lock:
            return self._handle(result)

    def _handle(self, result: dict[str, Any]) -> Outcome:
        found = alert(result, self.dashboard)
        if found is None or found.category not in self.on:
            self._tell(result, "ignored")
            return "ignored"
        if found.key in self._seen:
            self._tell(result, "duplicate")
            return "duplicate"
        try:
            self.sender.send(found)
        except NotSent as exc:
            # Told once, then let go: the result itself stays on the dashboard.
            self.say(f"notify: not sent: {found.category} {found.mode} {found.id}: {exc}")
            outcome: Outcome = "not-sent"
        else:
            outcome = "sent"
        self._remember(found.key)
        self._tell(result, outcome)
        return outcome

    def _remember(self, key: tuple[str, str, str]) -> None:
        self._seen[key] = None
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

    def _tell(self, result: dict[str, Any], outcome: Outcome) -> None:
        if self.verbose or outcome == "sent":
            what = f"{result.get('status')} {result.get('tradingMode')} {result.get('id')}"
            self.say(f"notify: {outcome}: {what}")


def decode(data: bytes) -> dict[str, Any] | None:
    """A result message's data, or None for anything that is not a JSON object."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class ResultsFeed:
    """Pulls `intent-results` through a durable subscription, creating it on first use."""

    def __init__(self, subscription: str, project: str | None = None) -> None:
        from google.cloud import pubsub_v1

        from publisher.client import _project

        self.client = pubsub_v1.SubscriberClient()
        project = _project(project)
        self.topic = self.client.topic_path(project, RESULTS_TOPIC)
        self.name = self.client.subscription_path(project, subscription)

    def open(self) -> None:
        from google.api_core import exceptions

        with contextlib.suppress(exceptions.AlreadyExists):  # made by an earlier run
            self.client.create_subscription(
                request={
                    "name": self.name,
                    "topic": self.topic,
                    "ack_deadline_seconds": 120,  # room for a post and its retries
                    "expiration_policy": {"ttl": {"seconds": 31 * 86400}},
                }
            )

    def batches(self, poll: float = 5.0) -> Iterable[list[tuple[str, bytes]]]:
        """Lists of (ack id, data); an empty list when nothing came within `poll` seconds."""
        from google.api_core import exceptions

        while True:
            try:
                response = self.client.pull(
                    subscription=self.name, max_messages=20, timeout=poll + 5, retry=None
                )
            except exceptions.DeadlineExceeded:
                yield []
                continue
            except (exceptions.ServiceUnavailable, exceptions.InternalServerError):
                time.sleep(1)  # Pub/Sub briefly away: the unacknowledged results come back
                yield []
                continue
            yield [(m.ack_id, m.message.data) for m in response.received_messages]

    def ack(self, ack_ids: list[str]) -> None:
        if ack_ids:
            self.client.acknowledge(subscription=self.name, ack_ids=ack_ids)


def follow(notifier: Notifier, feed: ResultsFeed) -> None:
    """Forever: each pulled result handled, then acknowledged."""
    feed.open()
    notifier.say(f"notify: following {RESULTS_TOPIC} (Ctrl-C to stop)")
    for batch in feed.batches():
        done = []
        for ack_id, data in batch:
            result = decode(data)
            if result is not None:
                notifier.handle(result)
            done.append(ack_id)
        feed.ack(done)


def make_sender(url: str, form: Format, policy: RetryPolicy) -> Sender:
    if form == "email":
        if not url.startswith("mailto:"):
            raise FormatError("--format email needs --to mailto:ADDRESS")
        return EmailSender(url, SmtpSettings.from_env(), policy)
    if not url.startswith(("http://", "https://")):
        raise FormatError(f"--to must be an http(s) or mailto: URL, not {shown(url)}")
    if form == "telegram":
        telegram_chat(url)  # checked now rather than at the first alert
    return WebhookSender(url, form, policy)
