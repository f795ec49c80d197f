"""The worker's HTTP server, the same in the container and in the local stack:
`python -m worker.server` (HOST and PORT from the environment).

functions-framework's app for `handle` (worker/main.py) under gunicorn's sync worker: one
worker process, one request at a time, run in the main thread, where the intent deadline
(SIGALRM) and the instance's shutdown (SIGTERM) can interrupt it. Three changes for a Pub/Sub
push endpoint:

- a client that sends nothing for READ_SECONDS is cut off, so a stalled one cannot hold the only
  thread (the timeout is per read: it bounds a pause, not the time a whole request takes);
- the connection closes as soon as the answer is out. gunicorn lingers up to 2 s for the client
  to hang up first, which a keep-alive client (the push client, Cloud Run's front end) never
  does, and the next delivery waited behind it;
- nothing reads more of a body than `handle` does (see `build_app`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

READ_SECONDS = 10.0  # the longest wait for a client's next bytes (each read, not the request)
# At most this much of what a client already sent is taken before the close: a client that keeps
# sending (a body it declared too large) would otherwise keep the only thread draining it.
DRAIN_BYTES = 256 * 1024
SOURCE = Path(__file__).resolve().parent / "main.py"


def _close_at_once(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
    """Close after taking whatever the client already sent (a close with unread data would
    reset the connection and could cut the answer short), without waiting for more."""
    drained = 0
    try:
        sock.setblocking(False)
        while drained < DRAIN_BYTES and (taken := sock.recv(65536)):
            drained += len(taken)
    except OSError:
        pass
    util.close(sock)


class DeliveryWorker(SyncWorker):
    """gunicorn's sync worker with a read timeout and an immediate close."""

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        client.settimeout(READ_SECONDS)
        super().handle(listener, client, addr)


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
