"""The set-up's command line: `deploy/setup.sh --project P --region R [...]`."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import NoReturn

from worker import names

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
PRINCIPAL_KINDS = ("user", "group")
GATEWAYS = ("per-intent", "always-on")
MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS = 20, 100  # Pub/Sub allows 5-100; 429s count


class UsageError(ValueError):
    """A bad command line: one line that says what is wrong."""


@dataclass(frozen=True)
class Options:
    project: str
    region: str
    mode: str = "paper"
    delivery: str = "push"
    repository: str = names.REPOSITORY
    firestore_location: str = ""
    max_delivery_attempts: int = 50
    dashboard: bool = True
    dashboard_users: tuple[str, ...] = ()
    skip_secret: bool = False
    skip_schedules: bool = False
    skip_config: bool = False
    alert_email: str = ""
    notifier: bool = False
    gateway: str = "per-intent"
    gateway_zone: str = ""
    gateway_machine_type: str = "e2-small"
    dry_run: bool = False
    teardown: bool = False
    yes: bool = False

    @property
    def other_mode(self) -> str:
        return "live" if self.mode == "paper" else "paper"

    @property
    def location(self) -> str:
        return self.firestore_location or self.region

    def email(self, account: str) -> str:
        return names.account_email(account, self.project)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="deploy/setup.sh",
        allow_abbrev=False,
        description="One-time, idempotent set-up (or --teardown) of a Google Cloud project for "
        "the IB worker: everything is checked first, then only what is missing or different "
        "changes. docs/deployment.md, 'Deploying to Google Cloud'.",
        epilog="The credentials secret's value is read from standard input, or prompted for at "
        'a terminal:  printf \'%%s\' \'{"userid": "...", "password": "..."}\' | '
        "deploy/setup.sh --project P --region R",
    )
    p.add_argument("--project", default="", help="Google Cloud project id (required)")
    p.add_argument("--region", default="", help="e.g. europe-west6 (required)")
    p.add_argument("--mode", default="paper", help="paper or live (default: paper)")
    p.add_argument(
        "--delivery", default="push", help="push (a push subscription, default) or eventarc"
    )
    p.add_argument("--repository", default=names.REPOSITORY, help="Artifact Registry repository")
    p.add_argument("--firestore-location", default="", help="default: the region")
    p.add_argument(
        "--max-delivery-attempts",
        default="50",
        help=f"before a message is dead-lettered ({MIN_DELIVERY_ATTEMPTS}-{MAX_DELIVERY_ATTEMPTS},"
        " default 50; a busy worker's 429 counts as one)",
    )
    p.add_argument(
        "--dashboard-user",
        action="append",
        default=[],
        metavar="EMAIL",
        help="a Google account (or group:EMAIL) that may open the dashboard through "
        "Identity-Aware Proxy; repeatable",
    )
    p.add_argument("--no-dashboard", action="store_true", help="no dashboard account or grants")
    p.add_argument("--skip-secret", action="store_true", help="no credentials secret")
    p.add_argument("--skip-schedules", action="store_true", help="no Cloud Scheduler jobs")
    p.add_argument(
        "--skip-config", action="store_true", help="do not apply config.yaml to Firestore"
    )
    p.add_argument(
        "--alert-email",
        default="",
        metavar="ADDRESS",
        help="Cloud Monitoring alerts to this address: failed results, dead letters waiting, "
        "the worker's 5xx rate, a scheduled job without a result",
    )
    p.add_argument(
        "--notifier",
        action="store_true",
        help="deploy `publisher notify` as the service ib-notifier behind a push subscription on "
        "intent-results (the webhook address from $NOTIFY_URL; needs the dashboard's image)",
    )
    p.add_argument(
        "--gateway",
        default="per-intent",
        help="per-intent (the worker starts a gateway for its intents, default) or always-on "
        "(a Compute Engine VM runs one; the worker connects to it: live accounts, "
        "docs/live-trading.md)",
    )
    p.add_argument("--gateway-zone", default="", help="the VM's zone (default: REGION-b)")
    p.add_argument(
        "--gateway-machine-type", default="e2-small", help="the VM's machine type (e2-small)"
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan; run no gcloud command")
    p.add_argument("--teardown", action="store_true", help="remove what the set-up created")
    p.add_argument("--yes", action="store_true", help="do not ask before a teardown")
    return p


def parse(argv: list[str]) -> Options:
    a = parser().parse_args(argv)
    for flag in ("project", "region"):
        if not getattr(a, flag):
            raise UsageError(f"--{flag} is required")
    _match(a.project, names.PROJECT_PATTERN, f"--project {a.project!r} is not a project id")
    _match(a.region, names.REGION_PATTERN, f"--region {a.region!r} is not a region (europe-west6)")
    if a.mode not in names.TRADING_MODES:
        raise UsageError(f"--mode must be paper or live, not {a.mode!r}")
    if a.delivery not in ("push", "eventarc"):
        raise UsageError(f"--delivery must be push or eventarc, not {a.delivery!r}")
    _match(a.repository, names.REPOSITORY_PATTERN, f"--repository {a.repository!r} is not valid")
    if a.firestore_location:
        _match(a.firestore_location, r"^[a-z0-9-]{2,30}$", "--firestore-location is not valid")
    attempts = a.max_delivery_attempts
    if (
        not attempts.isdigit()
        or not MIN_DELIVERY_ATTEMPTS <= int(attempts) <= MAX_DELIVERY_ATTEMPTS
    ):
        raise UsageError(
            f"--max-delivery-attempts must be {MIN_DELIVERY_ATTEMPTS} to {MAX_DELIVERY_ATTEMPTS}"
        )
    if a.no_dashboard and a.dashboard_user:
        raise UsageError("--dashboard-user and --no-dashboard contradict each other")
    if a.notifier and a.no_dashboard:
        raise UsageError("--notifier runs from the dashboard's image: not with --no-dashboard")
    if a.alert_email and not EMAIL.match(a.alert_email):
        raise UsageError(f"--alert-email {a.alert_email!r} is not an email address")
    if a.gateway not in GATEWAYS:
        raise UsageError(f"--gateway must be per-intent or always-on, not {a.gateway!r}")
    zone = a.gateway_zone or f"{a.region}-b"
    _match(zone, r"^[a-z]+-[a-z]+[0-9]+-[a-z]$", f"--gateway-zone {zone!r} is not a zone")
    if not zone.startswith(f"{a.region}-"):
        raise UsageError(f"--gateway-zone {zone!r} is not in --region {a.region}")
    _match(
        a.gateway_machine_type,
        r"^[a-z][a-z0-9]*-[a-z0-9-]+$",
        f"--gateway-machine-type {a.gateway_machine_type!r} is not a machine type",
    )
    return Options(
        project=a.project,
        region=a.region,
        mode=a.mode,
        delivery=a.delivery,
        repository=a.repository,
        firestore_location=a.firestore_location,
        max_delivery_attempts=int(attempts),
        dashboard=not a.no_dashboard,
        dashboard_users=tuple(dict.fromkeys(principal(u) for u in a.dashboard_user)),
        skip_secret=a.skip_secret,
        skip_schedules=a.skip_schedules,
        skip_config=a.skip_config,
        alert_email=a.alert_email,
        notifier=a.notifier,
        gateway=a.gateway,
        gateway_zone=zone,
        gateway_machine_type=a.gateway_machine_type,
        dry_run=a.dry_run,
        teardown=a.teardown,
        yes=a.yes,
    )


def principal(value: str) -> str:
    """`someone@example.com` -> `user:someone@example.com`; `group:team@example.com` as is."""
    kind, sep, email = value.partition(":")
    if not sep:
        kind, email = "user", value
    if kind not in PRINCIPAL_KINDS or not EMAIL.match(email):
        raise UsageError(f"--dashboard-user {value!r} is not an email (or group:EMAIL)")
    return f"{kind}:{email}"


def _match(value: str, pattern: str, message: str) -> None:
    if not re.fullmatch(pattern, value):
        raise UsageError(message)
