"""The notifier as a small HTTP service behind a Pub/Sub push subscription on `intent-results`
(`python -m publisher notify --serve`, or gunicorn `publisher.notify_serve:from_env()` on Cloud
Run).

Why a push subscription to a service rather than a function: the service runs from the
dashboard's image, which already holds `publisher/` and `worker/` (no new image, no second build),
a push subscription's OIDC token and Cloud Run's invoker grant keep it private the way the worker
is kept private, and one instance (`--max-instances=1`) keeps the deduplication in one memory.

Every push is acknowledged (204) once handled, whatever happened to the post (a failed post was
retried and logged): Pub/Sub never redelivers a result forever. A body that is no result is
acknowledged and logged too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from publisher.notify import URL_VARIABLE, Notifier, decode, make_sender
from worker.alert_formats import CATEGORIES, guess_format, parse_categories
from worker.alert_send import RetryPolicy
from worker.delivery import MAX_REQUEST_BYTES
from worker.delivery import decode as decode_push
from worker.exceptions import NotADelivery

Start = Callable[[str, list[tuple[str, str]]], Any]


def create_app(notifier: Notifier) -> Callable[[dict[str, Any], Start], Iterable[bytes]]:
    """A WSGI app: POST / takes one push; GET / says it is alive."""

    def app(environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return _answer(start, "200 OK", {"ok": True})
        if method != "POST":
            return _answer(start, "405 Method Not Allowed", {"error": "POST a push"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_REQUEST_BYTES:
            notifier.say("notify: a push too large to be a result; acknowledged")
            return _answer(start, "204 No Content", None)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            delivery = decode_push(headers, body)
        except NotADelivery as exc:
            notifier.say(f"notify: not a push ({str(exc)[:100]}); acknowledged")
            return _answer(start, "204 No Content", None)
        result = None if delivery.problem else decode(delivery.data)
        if result is None:
            notifier.say(f"notify: message {delivery.message_id} is no result; acknowledged")
        else:
            notifier.handle(result)
        return _answer(start, "204 No Content", None)

    return app


def _answer(start: Start, status: str, body: dict[str, Any] | None) -> list[bytes]:
    if body is None:
        start(status, [("Content-Length", "0")])
        return []
    data = json.dumps(body).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def from_env(env: dict[str, str] | None = None) -> Callable[..., Iterable[bytes]]:
    """The app configured from the environment: NOTIFY_URL (a secret), NOTIFY_ON, NOTIFY_FORMAT,
    DASHBOARD_URL."""
    env = dict(os.environ if env is None else env)
    url = env.get(URL_VARIABLE, "")
    if not url:
        raise SystemExit(f"notify: {URL_VARIABLE} is not set")
    form = env.get("NOTIFY_FORMAT") or guess_format(url)
    on = parse_categories(env.get("NOTIFY_ON") or ",".join(CATEGORIES))
    sender = make_sender(url, form, RetryPolicy())  # type: ignore[arg-type]
    return create_app(Notifier(sender, on, env.get("DASHBOARD_URL", "")))


def serve(notifier: Notifier, host: str, port: int) -> None:
    """Serve until interrupted (werkzeug's threaded server; gunicorn on Cloud Run)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, create_app(notifier), threaded=True)
    notifier.say(f"notify: serving pushes on http://{host}:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
