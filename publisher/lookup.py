"""The CLI's look-up commands: `show ID` and `holdings`, read through publisher/records.py."""

from __future__ import annotations

import argparse
import sys

from publisher import connection, holdings_read, views
from publisher.records import MODES, Records
from worker.database import StoreUnavailable, deadlines
from worker.message import ID_PATTERN

EXIT_NOT_FOUND = 1
EXIT_UNAVAILABLE = 4
HINT = (
    "is the local stack up (make up, then `set -a; . .devstack/env; set +a`), or are "
    "GOOGLE_CLOUD_PROJECT and your gcloud credentials set?"
)


def _unavailable(exc: StoreUnavailable) -> int:
    print(f"error: {exc}: {HINT}", file=sys.stderr)
    return EXIT_UNAVAILABLE


def cmd_show(args: argparse.Namespace) -> int:
    if not ID_PATTERN.fullmatch(args.id):
        print(
            f"error: {args.id!r} is not an intent id (1-64 of A-Z a-z 0-9 . _ : -)", file=sys.stderr
        )
        return EXIT_NOT_FOUND
    connection.check("firestore")
    records = Records(timeout=args.timeout)
    try:
        record = records.intent(args.mode, args.id)
        if record is None:
            other = next(m for m in MODES if m != args.mode)
            hint = (
                f" (it exists in {other}: add --mode {other})"
                if records.intent(other, args.id)
                else ""
            )
            print(f"error: no intent {args.id} in {args.mode}{hint}", file=sys.stderr)
            return EXIT_NOT_FOUND
        events = records.events(args.mode, args.id)
    except StoreUnavailable as exc:
        return _unavailable(exc)
    print(views.show_text(record, events))
    return 0


def cmd_holdings(args: argparse.Namespace) -> int:
    connection.check("firestore")
    try:
        found = holdings_read.read(Records(timeout=args.timeout), args.mode)
    except StoreUnavailable as exc:
        return _unavailable(exc)
    print(views.holdings_text(args.mode, found))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    show = sub.add_parser("show", help="an intent: status, params, result, orders, timeline")
    show.add_argument("id")
    show.add_argument("--mode", choices=MODES, default="paper")
    show.add_argument(
        "--timeout", type=float, default=deadlines.CALL_SECONDS, help=argparse.SUPPRESS
    )
    show.set_defaults(func=cmd_show)
    held = sub.add_parser("holdings", help="the strategies' holdings and unreconciled orders")
    held.add_argument("--mode", choices=MODES, default="paper")
    held.add_argument(
        "--timeout", type=float, default=deadlines.CALL_SECONDS, help=argparse.SUPPRESS
    )
    held.set_defaults(func=cmd_holdings)
