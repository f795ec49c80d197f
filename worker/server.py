"""The worker's HTTP server, the same in the container and in the local stack:
`python -m worker.server` (HOST and PORT from the environment).

functions-framework's app for `handle` (worker/main.py) under gunicorn's sync worker: one
worker process, one request at a time, run in the main thread, where the intent deadline
(SIGALRM) and the instance's shutdown (SIGTERM) can interrupt it. Three changes for a Pub/Sub
push endpoint:

- a request (its head and its body) must arrive within REQUEST_SECONDS in all, however it
  trickles: a client that declares 1000 bytes and sends one every few seconds would otherwise
  hold the only thread for as long as it keeps sending. Past it a body is answered 400 (`handle`
  cannot read it), a head 408, and the connection closed;
- the connection closes as soon as the answer is out. gunicorn lingers up to 2 s for the client
  to hang up first, which a keep-alive client (the push client, Cloud Run's front end) never
  does, and the next delivery waited behind it;
- nothing reads more of a body than `handle` does (see `build_app`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

REQUEST_SECONDS = 10.0  # the whole request, head and body, from the connection's start
READ_SECONDS = 10.0  # the longest wait of each write of the answer
# At most this much of what a client already sent is taken before the close: a client that keeps
# sending (a body it declared too large) would otherwise keep the only thread draining it.
DRAIN_BYTES = 256 * 1024
SOURCE = Path(__file__).resolve().parent / "main.py"


class RequestTooSlow(Exception):
    """The request did not arrive within its deadline."""


class DeadlineSocket:
    """The client's socket, each read bounded by what is left of one deadline for the whole
    request (a read past it raises RequestTooSlow); each write by READ_SECONDS. Everything else
    is the socket's."""

    def __init__(self, sock: socket.socket, seconds: float = REQUEST_SECONDS) -> None:
        self.raw = sock
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def recv(self, size: int, *flags: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTooSlow(f"the request did not arrive within {self.seconds:g} s")
        self.raw.settimeout(left)
        try:
            return self.raw.recv(size, *flags)
        except TimeoutError:
            raise RequestTooSlow(f"the request did not arrive within {self.seconds:g} s") from None

    def send(self, data: bytes, *flags: int) -> int:
        self.raw.settimeout(READ_SECONDS)
        return self.raw.send(data, *flags)

    def sendall(self, data: bytes, *flags: int) -> None:
        self.raw.settimeout(READ_SECONDS)
        self.raw.sendall(data, *flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


TOO_SLOW_BODY = b'{"error": "request not received in time"}'
TOO_SLOW = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(TOO_SLOW_BODY)}\r\n\r\n".encode()
    + TOO_SLOW_BODY
)


def _close_at_once(sock: Any, *args: Any, **kwargs: Any) -> None:
    """Close after taking whatever the client already sent (a close with unread data would
    reset the connection and could cut the answer short), without waiting for more."""
    sock = getattr(sock, "raw", sock)  # not through DeadlineSocket: its reads may wait
    drained = 0
    try:
        sock.setblocking(False)
        while drained < DRAIN_BYTES and (taken := sock.recv(65536)):
            drained += len(taken)
    except OSError:
        pass
    util.close(sock)


class DeliveryWorker(SyncWorker):  # type: ignore[misc]  # gunicorn has no type information
    """gunicorn's sync worker with a deadline for the whole request and an immediate close."""

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        super().handle(listener, DeadlineSocket(client), addr)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, RequestTooSlow):
            super().handle_error(req, client, addr, exc)
            return
        # a head that did not arrive in time (a body's is `handle`'s 400)
        self.log.warning("request head not received within %g s: closed", REQUEST_SECONDS)
        with contextlib.suppress(OSError):
            client.sendall(TOO_SLOW)


def build_app() -> Any:
    """functions-framework's Flask app for `handle`, without the hook it adds to read the whole
    request body after every answer (`read_request`): `handle` reads at most MAX_REQUEST_BYTES,
    and the hook read any declared size (100 MiB stayed in memory) and turned a body that could
    not be read into a 500 after `handle` had answered 400."""
    import functions_framework

    app = functions_framework.create_app(target="handle", source=str(SOURCE))
    app.after_request_funcs[None].remove(functions_framework.read_request)
    return app


def main() -> None:
    from functions_framework._http.gunicorn import GunicornApplication

    # The sync worker closes each connection through gunicorn's util; this process runs no
    # other gunicorn worker.
    util.close_graceful = _close_at_once
    GunicornApplication(
        build_app(),
        os.environ.get("HOST", "0.0.0.0"),
        int(os.environ.get("PORT", "8080")),
        False,
        workers=1,
        threads=1,
        worker_class="worker.server.DeliveryWorker",
        timeout=0,  # an intent runs up to its deadline; nothing else may kill the worker
    ).run()


if __name__ == "__main__":
    main()
