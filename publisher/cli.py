"""`python -m publisher` (console script `ib-intents`): publish, results, schedules apply,
notify."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from publisher import (
    connection,
    digest,
    lookup,
    notify_cli,
    schedules,
    schedules_apply,
    trading_config,
    views,
)
from publisher.client import (
    PublishError,
    ResultWaiter,
    build_message,
    follow_results,
    publish_intent,
)
from publisher.records import Records
from worker.database import StoreUnavailable, deadlines

# Documented in the README ("Publishing intents").
EXIT_FAILED, EXIT_TIMEOUT, EXIT_INVALID, EXIT_UNAVAILABLE = 1, 2, 3, connection.EXIT_UNAVAILABLE
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports it
DEFAULT_SCHEDULES = Path(__file__).with_name("schedules.yaml")


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.params:
        try:
            params = json.loads(args.params)
        except ValueError as exc:
            raise PublishError(f"--params is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise PublishError("--params must be a JSON object")
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PublishError(f"--param {item!r}: expected key=value")
        try:
            params[key] = json.loads(value)  # numbers, booleans, lists
        except ValueError:
            params[key] = value
    return params


def readable(result: dict[str, Any]) -> str:
    return views.result_text(result)


def cmd_publish(args: argparse.Namespace) -> int:
    params = _params(args)
    # Checked before anything is contacted, so a bad message creates nothing.
    build_message(args.intent, params, args.mode, args.id, args.ttl, requested_by=args.requested_by)
    connection.check("pubsub")
    if not args.wait:
        print(
            publish_intent(
                args.intent, params, args.mode, args.id, args.ttl, requested_by=args.requested_by
            )
        )
        return 0
    with ResultWaiter() as waiter:
        intent_id = publish_intent(
            args.intent, params, args.mode, args.id, args.ttl, requested_by=args.requested_by
        )
        print(intent_id, file=sys.stderr if args.json else sys.stdout, flush=True)
        try:
            result = waiter.wait(intent_id, args.timeout, args.mode)
        except TimeoutError as exc:
            print(f"timeout: {exc}", file=sys.stderr)
            return EXIT_TIMEOUT
    print(json.dumps(result, indent=2) if args.json else readable(result))
    if result["status"] != "succeeded":
        reason = (result.get("error") or {}).get("message", result["status"])
        print(views.shown([f"{result['status']}: {reason}".splitlines()[0]]), file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    connection.check("pubsub" if args.follow else "firestore")
    if args.follow:
        try:
            for result in follow_results(args.intent, args.status, listening=_listening):
                print(json.dumps(result) if args.json else _listed(result), flush=True)
        except KeyboardInterrupt:
            return 0
        return 0
    # A few more than asked: a record can be finished a moment before its result is recorded.
    records = Records(timeout=deadlines.SCAN_SECONDS)
    found = records.finished(args.intent, None, args.limit + 10, args.status)
    listed = [r["resultMessage"] for r in found if r.get("resultMessage")][: args.limit]
    if not args.json:
        print(RESULTS_HEADER)
    for result in listed:
        print(json.dumps(result) if args.json else _listed(result))
    return 0


def _listening() -> None:
    print("listening for new results (Ctrl-C to stop)", file=sys.stderr, flush=True)


RESULTS_HEADER = (
    f"{'finished':<20} {'intent':<20} {'status':<10} {'mode':<6} {'tries':>5}  id / error"
)


def _row(r: dict[str, Any]) -> str:
    message = str((r.get("error") or {}).get("message") or "")
    error = f"  {(message.splitlines() or [''])[0][:80]}" if message else ""
    return (
        f"{_when(r.get('finishedAt')):<20} {r.get('intent') or '-':<20} {r['status']:<10} "
        f"{r['tradingMode']:<6} {r.get('attempts', 0):>5}  {r['id']}{error}"
    )


def _when(stamp: object) -> str:
    """An RFC 3339 time as `2026-03-02 14:05:09Z` (20 characters, the column's width)."""
    try:
        return datetime.fromisoformat(str(stamp)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return str(stamp or "")[:20]


def _listed(r: dict[str, Any]) -> str:
    """A result's row, with its orders and fills below it."""
    orders = views.order_lines(digest.orders({"result": r.get("result") or {}}, []), "    ")
    return views.shown([_row(r), *orders])


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is not 1 to 1000")
    return value


def cmd_schedules(args: argparse.Namespace) -> int:
    return schedules_apply.run(args)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m publisher", description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)
    p = sub.add_parser("publish", help="publish an intent")
    p.add_argument("intent")
    p.add_argument("--params", help="params as a JSON object")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="one param (repeatable)")
    p.add_argument("--mode", choices=["paper", "live"], default="paper")
    p.add_argument("--id", help="idempotency key (default: generated)")
    p.add_argument("--ttl", type=int, help="seconds after which the intent is not run")
    p.add_argument("--requested-by", default=os.environ.get("USER") or None)
    p.add_argument("--wait", action="store_true", help="wait for the result")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--json", action="store_true", help="print the raw result")
    p.set_defaults(func=cmd_publish)
    r = sub.add_parser("results", help="recent results (from Firestore), or --follow new ones")
    r.add_argument("--follow", action="store_true")
    r.add_argument("--intent")
    r.add_argument("--status", choices=["succeeded", "failed", "rejected", "expired"])
    r.add_argument("--limit", type=_positive, default=20, help="how many (1-1000)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_results)
    s = sub.add_parser("schedules", help="Cloud Scheduler jobs as code")
    s.add_argument("action", choices=["apply"])
    s.add_argument("--file", type=Path, default=DEFAULT_SCHEDULES)
    s.add_argument("--project")
    s.add_argument("--region", help="Cloud Scheduler location")
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--prune", action="store_true", help="delete managed jobs not in the file")
    s.add_argument(
        "--gateway-restart-time",
        default=os.environ.get("GATEWAY_RESTART_TIME", "23:15"),
        help="the always-on gateway's daily restart (HH:MM New York; $GATEWAY_RESTART_TIME, "
        "default 23:15): a job that runs near it is warned about",
    )
    s.add_argument(
        "--exchange",
        default="XNYS",
        help="the exchange calendar (exchange_calendars, e.g. XNYS, XLON) whose holidays and "
        "early closes the next year's runs are marked against (default XNYS)",
    )
    s.set_defaults(func=cmd_schedules)
    lookup.add_parsers(sub)
    notify_cli.add_parser(sub)
    trading_config.add_parsers(sub)
    return main


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(parser().parse_args(argv))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except (PublishError, schedules.ScheduleError, notify_cli.NotifyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (connection.NotConnected, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except Exception as exc:
        reason = connection.explain(exc)  # a stack stopped meanwhile, a permission missing
        if reason is None:
            raise
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_UNAVAILABLE
