"""What an alert says, and in which shape each kind of receiver takes it.

Pure functions: a result message in, an `Alert` (what to say) and an `Outgoing` (the HTTP request)
or an email out; or a `Notice` (the worker's own news: a login waiting for approval). Nothing here
sends anything. Shared by `python -m publisher notify` and the worker (whose image holds only
`worker/`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from worker.logs import redact

Category = Literal["failed", "rejected", "expired", "dead-lettered", "silent"]
CATEGORIES: tuple[Category, ...] = ("failed", "rejected", "expired", "dead-lettered", "silent")
Format = Literal["json", "ntfy", "telegram", "email"]
FORMATS: tuple[Format, ...] = ("json", "ntfy", "telegram", "email")
SILENT_CODE = "schedule-silent"  # the error code of a watch's result for a missed run
DEAD_LETTER_CODE = "dead-lettered"
MAX_ERROR = 600  # characters of the error message in a notification


class FormatError(ValueError):
    """The receiver's address does not fit the format (one line)."""


@dataclass(frozen=True)
class Alert:
    """One notification: what happened to which intent, and where to look."""

    key: tuple[str, str, str]  # (id, tradingMode, messageId): the same result twice is one alert
    category: Category
    id: str
    intent: str
    mode: str
    status: str
    error: str
    link: str

    @property
    def title(self) -> str:
        what = {"silent": "schedule silent", "dead-lettered": "dead-lettered"}.get(
            self.category, self.status
        )
        return f"IB intent {what}: {self.intent} ({self.mode})"

    @property
    def text(self) -> str:
        return "\n".join(
            [
                f"id: {self.id}",
                f"intent: {self.intent}",
                f"mode: {self.mode}",
                f"status: {self.status}",
                f"error: {self.error}",
                f"details: {self.link}",
            ]
        )

    def fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "intent": self.intent,
            "tradingMode": self.mode,
            "status": self.status,
            "category": self.category,
            "error": self.error,
            "link": self.link,
        }


@dataclass(frozen=True)
class Notice:
    """News that is not a result (a login waiting for second-factor approval)."""

    title: str
    text: str
    link: str
    kind: str
    mode: str

    def fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "tradingMode": self.mode, "link": self.link}


@dataclass(frozen=True)
class Outgoing:
    """An HTTP POST to a receiver."""

    url: str
    body: bytes
    headers: dict[str, str]


def category(result: dict[str, Any]) -> Category | None:
    """Which kind of trouble a result reports (None: a success, or not a result at all)."""
    status: object = result.get("status")
    code = (result.get("error") or {}).get("code") if isinstance(result.get("error"), dict) else ""
    if status == "failed" and code == DEAD_LETTER_CODE:
        return "dead-lettered"
    if status == "failed" and code == SILENT_CODE:
        return "silent"
    for kind in ("failed", "rejected", "expired"):
        if status == kind:
            return kind
    return None


def parse_categories(text: str) -> frozenset[Category]:
    """`failed,rejected` -> the set; ValueError naming what is not a category."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown or not chosen:
        raise ValueError(
            f"--on {text!r}: expected a comma-separated list of {', '.join(CATEGORIES)}"
        )
    return frozenset(chosen)  # type: ignore[arg-type]


def alert(result: dict[str, Any], dashboard: str) -> Alert | None:
    """The alert for a result, or None when it reports no trouble or is not a result."""
    kind = category(result)
    intent_id, mode = result.get("id"), result.get("tradingMode")
    if kind is None or not isinstance(intent_id, str) or not isinstance(mode, str):
        return None
    error = result.get("error")
    if not isinstance(error, dict):
        error = {}
    message = redact(str(error.get("message") or ""))[:MAX_ERROR]
    code = str(error.get("code") or "")
    return Alert(
        key=(intent_id, mode, str(result.get("messageId") or "")),
        category=kind,
        id=intent_id,
        intent=str(result.get("intent") or "-"),
        mode=mode,
        status=str(result.get("status")),
        error=f"{code}: {message}" if code else message or "-",
        link=detail_link(dashboard, mode, intent_id),
    )


def detail_link(dashboard: str, mode: str, intent_id: str) -> str:
    """The dashboard's page of one intent (dashboard/routes/intents.py: /intents/MODE/ID)."""
    base = dashboard.rstrip("/") or "http://127.0.0.1:8080"
    return f"{base}/intents/{quote(mode, safe='')}/{quote(intent_id, safe='')}"


def guess_format(url: str) -> Format:
    """The format a receiver's address implies: mailto: is email, Telegram's Bot API is
    telegram, an ntfy server is ntfy; anything else gets the Slack/Discord JSON."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "mailto":
        return "email"
    if host == "api.telegram.org":
        return "telegram"
    if host == "ntfy.sh" or host.startswith("ntfy."):
        return "ntfy"
    return "json"


def request(alert: Alert | Notice, url: str, form: Format) -> Outgoing:
    """The POST that delivers `alert` to `url` in format `form` (not email)."""
    if form == "json":
        # Slack reads `text`, Discord reads `content`, each ignores the other; the fields are
        # for any other receiver.
        body: dict[str, Any] = {
            "text": f"*{alert.title}*\n{alert.text}",
            "content": f"**{alert.title}**\n{alert.text}"[:2000],
            **alert.fields(),
        }
        return Outgoing(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    if form == "ntfy":
        headers = {
            "Title": _ascii(alert.title),
            "Priority": "high",
            "Tags": "warning",
            "Content-Type": "text/plain; charset=utf-8",
        }
        if alert.link:
            headers["Click"] = alert.link
        return Outgoing(url, alert.text.encode(), headers)
    if form == "telegram":
        chat = telegram_chat(url)
        body = {"chat_id": chat, "text": f"{alert.title}\n{alert.text}"[:4096]}
        target = url.split("?", 1)[0]
        if not target.endswith("/sendMessage"):
            target = target.rstrip("/") + "/sendMessage"
        return Outgoing(target, json.dumps(body).encode(), {"Content-Type": "application/json"})
    raise FormatError(f"format {form!r} is not sent by HTTP")


def telegram_chat(url: str) -> str:
    """The chat a Telegram address names: `.../bot<TOKEN>/sendMessage?chat_id=ID`."""
    chats = parse_qs(urlsplit(url).query).get("chat_id") or []
    if len(chats) != 1 or not chats[0].lstrip("-").isalnum():
        raise FormatError("a Telegram address needs ?chat_id=ID (the chat to post in)")
    return chats[0]


def email(alert: Alert | Notice, to: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = sender
    message["To"] = to
    message.set_content(alert.text + "\n")
    return message


def shown(url: str) -> str:
    """A receiver's address as logs may show it: scheme and host only (a webhook's path or a
    bot's token is its credential)."""
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return "mailto:" + (parts.path.partition("@")[2] or "?")
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


def _ascii(text: str) -> str:
    """HTTP header values are Latin-1 at best: keep what ASCII can say."""
    return text.encode("ascii", "replace").decode()
