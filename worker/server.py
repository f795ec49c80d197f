"""The worker's HTTP server, the same in the container and in the local stack:
`python -m worker.server` (HOST and PORT from the environment).

functions-framework's app for `handle` (worker/main.py) under gunicorn's sync worker: one
worker process, one request at a time, run in the main thread, where the intent deadline
(SIGALRM) and the instance's shutdown (SIGTERM) can interrupt it. Two changes for a Pub/Sub push
endpoint:

- a client has READ_SECONDS to send its request, so a slow one cannot hold the only thread;
- the connection closes as soon as the answer is out. gunicorn lingers up to 2 s for the client
  to hang up first, which a keep-alive client (the push client, Cloud Run's front end) never
  does, and the next delivery waited behind it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

READ_SECONDS = 10.0
SOURCE = Path(__file__).resolve().parent / "main.py"


def _close_at_once(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
    """Close after taking whatever the client already sent (a close with unread data would
    reset the connection and could cut the answer short), without waiting for more."""
    try:
        sock.setblocking(False)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    util.close(sock)


class DeliveryWorker(SyncWorker):
    """gunicorn's sync worker with a read timeout and an immediate close."""

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        client.settimeout(READ_SECONDS)
        super().handle(listener, client, addr)


def main() -> None:
    from functions_framework import create_app
    from functions_framework._http.gunicorn import GunicornApplication

    # The sync worker closes each connection through gunicorn's util; this process runs no
    # other gunicorn worker.
    util.close_graceful = _close_at_once
    app = create_app(target="handle", source=str(SOURCE))
    GunicornApplication(
        app,
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
