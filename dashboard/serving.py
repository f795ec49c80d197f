"""The two HTTP servers the dashboard runs under, made to send the security headers
(security.HEADERS) on the error pages they write themselves, before a request reaches Flask
(a request line or query string too long, too many or too large headers, a malformed request):

- werkzeug's development server (`python -m dashboard`, the local stack): `Handler`;
- gunicorn (dashboard/Dockerfile): `Worker`, its gthread worker whose error page carries them.
"""

from __future__ import annotations

from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.serving import WSGIRequestHandler

from dashboard.security import HEADERS

ERROR_HEADERS = {**HEADERS, "Cache-Control": "no-store"}


class Handler(WSGIRequestHandler):
    """werkzeug's request handler; http.server's own error pages get the headers too."""

    _server_error = False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self._server_error = True
        try:
            super().send_error(code, message, explain)
        finally:
            self._server_error = False

    def end_headers(self) -> None:
        if self._server_error:
            for name, value in ERROR_HEADERS.items():
                self.send_header(name, value)
        super().end_headers()


def error_response(status: int, reason: str) -> bytes:
    """gunicorn's error answer, plain text naming the status (nothing of the request repeated),
    with the security headers."""
    body = f"{status} {reason}\n".encode("latin-1", "replace")
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Connection: close",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in ERROR_HEADERS.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body


def _write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, error_response(status_int, reason))


class Worker(ThreadWorker):
    """gunicorn's threaded worker (`--threads`), its error pages with the security headers.
    gunicorn writes them through `util.write_error`; this process runs no other worker."""

    def init_process(self) -> None:
        util.write_error = _write_error
        super().init_process()
