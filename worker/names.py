"""The names of every deployed resource, in one place.

Imported by the worker (worker/settings.py), the publisher, the local stack (deploy/stack.py) and
the Google Cloud set-up (deploy/cloud); cloudbuild.yaml reads them through
`python -m worker.names --shell ...`, which prints shell assignments. Standard library only, so
that any Python 3 can run it (cloudbuild.yaml runs it before any image is built).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys

TRADING_MODES = ("paper", "live")

# Pub/Sub
INTENTS_TOPIC = "intents"
RESULTS_TOPIC = "intent-results"
DEAD_LETTER_TOPIC = "intents-dead-letter"
DEAD_LETTER_KEEP_SUBSCRIPTION = "intents-dead-letter-keep"  # for people: 7 days to read them
RESULTS_TAP_SUBSCRIPTION = "intent-results-tap"  # the local stack's, for people
DEAD_LETTER_PATH = "/dead-letter"  # where the worker takes pushes of the dead-letter topic
ACK_DEADLINE_SECONDS = 600  # the intents push subscription's
DEAD_LETTER_ACK_DEADLINE_SECONDS = 60  # closing a dead letter is quick

# Artifact Registry and Cloud Run
REPOSITORY = "ib-worker"
BASE_IMAGE = "ib-gateway-base"
WORKER_IMAGE = "ib-worker"
DASHBOARD_IMAGE = "ib-dashboard"
DASHBOARD_SERVICE = "ib-dashboard"

# Service accounts (the part before @)
DEPLOYER_ACCOUNT = "ib-deployer"
DASHBOARD_ACCOUNT = "ib-dashboard"

# Patterns of the values the names are made from (POSIX ERE, so bash's =~ can use them too).
PROJECT_PATTERN = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
REGION_PATTERN = r"^[a-z]+-[a-z]+[0-9]{1,2}$"
REPOSITORY_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"


def _mode(mode: str) -> str:
    if mode not in TRADING_MODES:
        raise ValueError(f"trading mode must be one of {', '.join(TRADING_MODES)}, not {mode!r}")
    return mode


def service(mode: str) -> str:
    """The worker's Cloud Run service."""
    return f"ib-{_mode(mode)}"


def push_subscription(mode: str) -> str:
    """The push subscription that delivers `intents` to the worker."""
    return f"worker-push-{_mode(mode)}"


def dead_letter_subscription(mode: str) -> str:
    """The push subscription that delivers `intents-dead-letter` to the worker's /dead-letter."""
    return f"worker-dead-letter-{_mode(mode)}"


def trigger(mode: str) -> str:
    """The Eventarc trigger that delivers `intents` (with Eventarc delivery)."""
    return f"ib-{_mode(mode)}-intents"


def worker_account(mode: str) -> str:
    return f"ib-worker-{_mode(mode)}"


def invoker_account(mode: str) -> str:
    """The identity of the push subscriptions' OIDC tokens."""
    return f"ib-invoker-{_mode(mode)}"


def credentials_secret(mode: str) -> str:
    return f"ib-credentials-{_mode(mode)}"


def account_email(account: str, project: str) -> str:
    return f"{account}@{project}.iam.gserviceaccount.com"


def registry(region: str, project: str, repository: str = REPOSITORY) -> str:
    return f"{region}-docker.pkg.dev/{project}/{repository}"


def service_url(mode_service: str, project_number: str, region: str) -> str:
    """Cloud Run's deterministic URL of a service, known before its first deploy."""
    return f"https://{mode_service}-{project_number}.{region}.run.app"


def check(value: str, pattern: str, what: str) -> str:
    if not re.fullmatch(pattern, value):
        raise ValueError(f"{what} {value!r} does not match {pattern}")
    return value


def shell(mode: str, project: str, region: str, repository: str = REPOSITORY) -> dict[str, str]:
    """Every name cloudbuild.yaml needs for one worker, as shell variables."""
    check(project, PROJECT_PATTERN, "project")
    check(region, REGION_PATTERN, "region")
    check(repository, REPOSITORY_PATTERN, "repository")
    images = registry(region, project, repository)
    return {
        "INTENTS_TOPIC": INTENTS_TOPIC,
        "RESULTS_TOPIC": RESULTS_TOPIC,
        "DEAD_LETTER_TOPIC": DEAD_LETTER_TOPIC,
        "SERVICE": service(mode),
        "WORKER_SA": account_email(worker_account(mode), project),
        "SECRET": credentials_secret(mode),
        "DASHBOARD_SERVICE": DASHBOARD_SERVICE,
        "DASHBOARD_SA": account_email(DASHBOARD_ACCOUNT, project),
        "BASE_IMAGE": f"{images}/{BASE_IMAGE}",
        "WORKER_IMAGE": f"{images}/{WORKER_IMAGE}",
        "DASHBOARD_IMAGE": f"{images}/{DASHBOARD_IMAGE}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m worker.names", description="Print the deployment's names."
    )
    parser.add_argument("--shell", action="store_true", help="as NAME=value lines (the default)")
    parser.add_argument("--mode", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--repository", default=REPOSITORY)
    args = parser.parse_args(argv)
    try:
        names = shell(args.mode, args.project, args.region, args.repository)
    except ValueError as exc:
        print(f"worker.names: {exc}", file=sys.stderr)
        return 2
    for key, value in names.items():
        print(f"{key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
