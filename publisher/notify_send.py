"""Delivering one alert by email through SMTP (webhooks: `worker.alert_send`)."""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from worker.alert_formats import Alert, Notice, email
from worker.alert_send import DEFAULT_POLICY, TIMEOUT_SECONDS, NotSent, RetryPolicy


@dataclass(frozen=True)
class SmtpSettings:
    """From the environment: SMTP_HOST, SMTP_PORT (587), SMTP_USER and SMTP_PASSWORD (optional),
    SMTP_FROM, SMTP_TLS (starttls, ssl or none). The password never comes from a command line."""

    host: str
    port: int
    user: str
    password: str
    sender: str
    tls: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SmtpSettings:
        env = dict(os.environ if env is None else env)
        host = env.get("SMTP_HOST", "")
        if not host:
            raise ValueError("email alerts need SMTP_HOST (and SMTP_FROM) in the environment")
        tls = env.get("SMTP_TLS", "starttls")
        if tls not in ("starttls", "ssl", "none"):
            raise ValueError(f"SMTP_TLS must be starttls, ssl or none, not {tls!r}")
        port = env.get("SMTP_PORT", "465" if tls == "ssl" else "587")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"SMTP_PORT {port!r} is not a port")
        sender = env.get("SMTP_FROM") or env.get("SMTP_USER", "")
        if "@" not in sender:
            raise ValueError("SMTP_FROM must be the sender's address")
        return cls(
            host, int(port), env.get("SMTP_USER", ""), env.get("SMTP_PASSWORD", ""), sender, tls
        )


class EmailSender:
    """Sends each alert as an email to the address of a `mailto:` URL."""

    def __init__(
        self, url: str, settings: SmtpSettings, policy: RetryPolicy = DEFAULT_POLICY
    ) -> None:
        self.to = unquote(urlsplit(url).path)
        if "@" not in self.to:
            raise ValueError("--to mailto:ADDRESS needs an address")
        self.settings, self.policy = settings, policy

    def send(self, alert: Alert | Notice) -> None:
        import time

        message = email(alert, self.to, self.settings.sender)
        failure = ""
        for attempt in range(self.policy.retries + 1):
            if attempt:
                time.sleep(self.policy.backoff * 2 ** (attempt - 1))
            try:
                self._deliver(message)
                return
            except (OSError, smtplib.SMTPException) as exc:
                failure = type(exc).__name__
        raise NotSent(
            f"SMTP {self.settings.host} failed {self.policy.retries + 1} attempts: {failure}"
        )

    def _deliver(self, message: object) -> None:
        s = self.settings
        context = ssl.create_default_context()
        if s.tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            server = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_SECONDS)
        with server:
            if s.tls == "starttls":
                server.starttls(context=context)
            if s.user:
                server.login(s.user, s.password)
            server.send_message(message)  # type: ignore[arg-type]

    def close(self) -> None:
        return None
