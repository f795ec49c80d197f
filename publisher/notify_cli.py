"""The `publisher notify` command line: follow the results (`notify.py`), or with --serve take
them from a push subscription over HTTP (`notify_serve.py`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from publisher import connection, notify
from publisher.notify import SUBSCRIPTION, URL_VARIABLE, Notifier, ResultsFeed, follow, make_sender
from publisher.notify_serve import serve
from worker.alert_formats import CATEGORIES, FORMATS, guess_format, parse_categories
from worker.alert_send import RetryPolicy


def add_parser(sub: Any) -> None:
    n = sub.add_parser(
        "notify",
        help="post a message per failed, rejected, expired, dead-lettered or silent result",
        description=notify.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    n.add_argument(
        "--to",
        help=f"webhook URL or mailto:ADDRESS (default: ${URL_VARIABLE}; a webhook URL is a "
        "secret: prefer the variable to a command line)",
    )
    n.add_argument(
        "--format", choices=FORMATS, help="default: from the URL (json is Slack/Discord)"
    )
    n.add_argument(
        "--on",
        default=",".join(CATEGORIES),
        help=f"which results (default: {','.join(CATEGORIES)})",
    )
    n.add_argument("--dashboard", help="the dashboard's URL for links (default: $DASHBOARD_URL)")
    n.add_argument("--subscription", default=SUBSCRIPTION, help=f"default: {SUBSCRIPTION}")
    n.add_argument("--project")
    n.add_argument("--retries", type=int, default=4, help="after the first attempt (default 4)")
    n.add_argument("--backoff", type=float, default=1.0, help="first wait in seconds (doubles)")
    n.add_argument("--verbose", action="store_true", help="also log results not sent")
    n.add_argument(
        "--serve",
        action="store_true",
        help="take pushes of a push subscription over HTTP instead of pulling",
    )
    n.add_argument("--host", default="127.0.0.1", help="with --serve (default 127.0.0.1)")
    n.add_argument("--port", type=int, default=8080, help="with --serve (default 8080)")
    n.set_defaults(func=run)


class NotifyError(ValueError):
    """A bad notify command line (one line)."""


def run(args: argparse.Namespace) -> int:
    url = args.to or os.environ.get(URL_VARIABLE, "")
    if not url:
        raise NotifyError(f"--to URL (or ${URL_VARIABLE}) is required")
    if not 0 <= args.retries <= 10 or not 0 <= args.backoff <= 60:
        raise NotifyError("--retries must be 0-10 and --backoff 0-60 seconds")
    try:
        on = parse_categories(args.on)
        sender = make_sender(
            url, args.format or guess_format(url), RetryPolicy(args.retries, args.backoff)
        )
    except ValueError as exc:
        raise NotifyError(str(exc)) from None
    dashboard = args.dashboard or os.environ.get("DASHBOARD_URL", "")
    notifier = Notifier(sender, on, dashboard, verbose=args.verbose)
    try:
        if args.serve:
            serve(notifier, args.host, args.port)
            return 0
        connection.check("pubsub")
        follow(notifier, ResultsFeed(args.subscription, args.project))
    except KeyboardInterrupt:
        return 0
    finally:
        sender_close = getattr(sender, "close", None)
        if sender_close is not None:
            sender_close()
    return 0
