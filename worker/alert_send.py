"""Delivering one alert by HTTP: a POST retried with backoff.

The retries are urllib3's `Retry` mounted on a `requests` session (both well kept, and already
installed with Google's client libraries): connection errors, timeouts and 429/5xx answers are
retried with exponential backoff, honouring a receiver's Retry-After. Used by `python -m publisher
notify` and by the worker (a login waiting for approval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker.alert_formats import Alert, Format, Notice, request, shown

TIMEOUT_SECONDS = 10.0  # per attempt
RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class NotSent(Exception):
    """Every attempt failed; the message says why (never the receiver's full address)."""


class Sender(Protocol):
    def send(self, alert: Alert | Notice) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # after the first attempt
    backoff: float = 1.0  # seconds: 1, 2, 4, 8 between attempts


DEFAULT_POLICY = RetryPolicy()


class WebhookSender:
    """POSTs each alert to one URL in one format."""

    def __init__(self, url: str, form: Format, policy: RetryPolicy = DEFAULT_POLICY) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.url, self.form, self.policy = url, form, policy
        retry = Retry(
            total=policy.retries,
            connect=policy.retries,
            read=policy.retries,
            status=policy.retries,
            backoff_factor=policy.backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or .netrc credentials picked up on the way
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, alert: Alert | Notice) -> None:
        import requests

        out = request(alert, self.url, self.form)
        attempts = self.policy.retries + 1
        try:
            answer = self.session.post(
                out.url, data=out.body, headers=out.headers, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            raise NotSent(
                f"{shown(self.url)} unreachable after {attempts} attempts: {type(exc).__name__}"
            ) from None
        if not 200 <= answer.status_code < 300:
            raise NotSent(f"{shown(self.url)} answered HTTP {answer.status_code}")

    def close(self) -> None:
        self.session.close()
