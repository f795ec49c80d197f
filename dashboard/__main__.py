"""`python -m dashboard [--host H] [--port P]`: serve the dashboard against the Firestore and
Pub/Sub of the current environment (GOOGLE_CLOUD_PROJECT, or the emulators' variables that
`.devstack/env` sets)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading

from dashboard.settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8090")), help="port ($PORT or 8090)"
    )
    args = parser.parse_args(argv)
    if not os.environ.get("GOOGLE_CLOUD_PROJECT"):
        print(
            "error: GOOGLE_CLOUD_PROJECT is not set: source .devstack/env for the local stack "
            "(`set -a; . .devstack/env; set +a`) or set it to your project",
            file=sys.stderr,
        )
        return 2
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from werkzeug.serving import make_server

    from dashboard.app import create_app

    logging.basicConfig(level=logging.WARNING, format="dashboard: %(message)s")
    try:  # werkzeug would print its own advice and exit: say it in one line instead
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    from dashboard.serving import Handler

    server = make_server(
        args.host, args.port, create_app(settings), threaded=True, request_handler=Handler
    )
    stop = threading.Event()

    def shutdown(signum: int, frame: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    print(
        f"dashboard at http://{host}:{server.server_port}/ (project {settings.project}, "
        f"publishing for {', '.join(settings.modes)})",
        flush=True,
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
