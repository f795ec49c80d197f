"""Response headers (a strict Content-Security-Policy on every response), CSRF protection of
forms, and the submissions already published (so a double click publishes once)."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, request

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
CSRF_COOKIE = "dashboard_csrf"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class Refused(Exception):
    """A form submission that is not accepted; str() says why."""


def install(app: Flask) -> None:
    app.after_request(_headers)


def _headers(response: Any) -> Any:
    for name, value in HEADERS.items():
        response.headers[name] = value
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    token = g.get("new_csrf")
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
            max_age=12 * 3600,
        )
    return response


def csrf_token() -> str:
    """The browser's CSRF token (from its cookie, or a new one set with this response)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if TOKEN.match(token):
        return token
    if not g.get("new_csrf"):
        g.new_csrf = secrets.token_urlsafe(32)
    return g.new_csrf


def check_csrf(form_token: str) -> None:
    """The form's token must equal the cookie's, and the request must come from this site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        raise Refused("the form was sent from another site")
    # Behind `gcloud run services proxy` the browser's origin (localhost) is not the Host the
    # service sees; the browser's own same-origin verdict then stands in for the comparison.
    origin = request.headers.get("Origin")
    if (
        site != "same-origin"
        and origin
        and origin != "null"
        and urlsplit(origin).netloc != request.host
    ):
        raise Refused("the form was sent from another site")
    cookie, form_token = request.cookies.get(CSRF_COOKIE, ""), form_token or ""
    # both checked first: compare_digest refuses (TypeError) a str that is not ASCII
    if (
        not TOKEN.fullmatch(cookie)
        or not TOKEN.fullmatch(form_token)
        or not hmac.compare_digest(cookie, form_token)
    ):
        raise Refused(
            "the form's security token is missing or out of date: reload the page and send "
            "the form again"
        )


class Submissions:
    """Form submission tokens already published, and what they published (mode, id): a second
    click of the same form shows the first one's intent instead of publishing again. Across
    instances the intent id itself is derived from the token, so the worker records it once."""

    def __init__(self, keep: int = 2000, seconds: float = 24 * 3600) -> None:
        self.keep, self.seconds = keep, seconds
        self._done: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
        self._busy: set[str] = set()
        self._changed = threading.Condition()

    @staticmethod
    def new() -> str:
        return secrets.token_hex(12)

    def begin(self, token: str, wait: float = 30.0) -> tuple[str, str] | None:
        """Claim `token` for publishing, or what it published already (waiting for a request
        that is publishing it right now: the browser shows the last click's answer)."""
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                self._expire()
                if token in self._done:
                    _, mode, intent_id = self._done[token]
                    return mode, intent_id
                if token not in self._busy:
                    self._busy.add(token)
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Refused("this form is still being published: reload in a moment")
                self._changed.wait(left)

    def end(self, token: str, published: tuple[str, str] | None) -> None:
        with self._changed:
            self._busy.discard(token)
            if published is not None:
                self._done[token] = (time.monotonic(), *published)
                while len(self._done) > self.keep:
                    self._done.popitem(last=False)
            self._changed.notify_all()

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.seconds
        while self._done and next(iter(self._done.values()))[0] < cutoff:
            self._done.popitem(last=False)
