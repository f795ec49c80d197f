"""`--notifier`: `python -m publisher notify` on Google Cloud, as the Cloud Run service
`ib-notifier` behind a push subscription on `intent-results`.

A service rather than a function: it runs from the dashboard's image, which holds `publisher/`
and `worker/` already (no second build, no source upload), it is private the way the worker is
(the push's OIDC token, Cloud Run's invoker grant), and one instance keeps the deduplication of
results in one memory. The webhook address is a secret (`ib-notify-url`), read from the
environment variable NOTIFY_URL when the set-up adds its value, never from a command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from deploy.cloud import iam
from deploy.cloud.gcloud import Command, InputError
from deploy.cloud.options import Options
from deploy.cloud.plan import Facts, Resource, Seen, static
from deploy.cloud.worker_subscriptions import pubsub_agent, push_subscription
from worker import names

SERVICE = "ib-notifier"
ACCOUNT = "ib-notifier"
SECRET = "ib-notify-url"
SUBSCRIPTION = "intent-results-notifier-push"
URL_VARIABLE = "NOTIFY_URL"
SERVE = "publisher.notify_serve:from_env()"


def secret_value() -> str:
    """The webhook address, from the environment only (read when the version is added)."""
    value = os.environ.get(URL_VARIABLE, "")
    if not value.startswith(("https://", "http://")):
        raise InputError(f"${URL_VARIABLE} must be the webhook's http(s) URL")
    return value


def _add_value(o: Options) -> Callable[[Facts], list[Command]]:
    def commands(_facts: Facts) -> list[Command]:
        if not o.dry_run and not os.environ.get(URL_VARIABLE):
            raise InputError(
                f"secret {SECRET} has no value: set ${URL_VARIABLE} (the webhook address) in "
                "the environment, not on the command line, and run the set-up again"
            )
        return [
            Command.of("secrets", "versions", "add", SECRET, "--data-file=-", stdin=secret_value)
        ]

    return commands


def resources(o: Options, project_number: str, dashboard_key: str) -> list[Resource]:
    """With --notifier: everything; in a teardown: the same list, to remove what exists."""
    if not o.notifier and not o.teardown:
        return []
    email = o.email(ACCOUNT)
    member = f"serviceAccount:{email}"
    url = names.service_url(SERVICE, project_number, o.region)
    region = f"--region={o.region}"
    account = Resource(
        key=f"service account {ACCOUNT}",
        probe=lambda gcloud: Seen(
            gcloud.read_json("iam", "service-accounts", "describe", email) is not None
        ),
        create=static(
            Command.of("iam", "service-accounts", "create", ACCOUNT, f"--display-name={ACCOUNT}")
        ),
        delete=static(Command.of("iam", "service-accounts", "delete", email)),
        scope="shared",
    )
    secret = Resource(
        key=f"secret {SECRET}",
        probe=lambda gcloud: Seen(gcloud.read_json("secrets", "describe", SECRET) is not None),
        create=static(Command.of("secrets", "create", SECRET, "--replication-policy=automatic")),
        delete=static(Command.of("secrets", "delete", SECRET)),
        scope="shared",
    )
    value = Resource(
        key=f"a value of secret {SECRET} (from ${URL_VARIABLE})",
        probe=lambda gcloud: Seen(
            bool(gcloud.read_json("secrets", "versions", "list", SECRET, "--filter=state=ENABLED"))
        ),
        create=_add_value(o),
        scope="shared",
        needs=(secret.key,),
    )
    reads = iam.binding(
        "roles/secretmanager.secretAccessor",
        member,
        iam.secret(SECRET),
        scope="shared",
        needs=(secret.key, account.key),
    )
    service = Resource(
        key=f"Cloud Run service {SERVICE} (from the dashboard's image)",
        probe=lambda gcloud: Seen(
            gcloud.read_json("run", "services", "describe", SERVICE, region) is not None
        ),
        create=static(_deploy(o, email)),
        delete=static(Command.of("run", "services", "delete", SERVICE, region)),
        scope="shared",
        needs=tuple(k for k in (dashboard_key, value.key, reads.key) if k),
        note="rerun with --notifier after a dashboard deploy to move it to the new image",
    )
    invoke = iam.binding(
        "roles/run.invoker",
        member,
        iam.run_service(SERVICE, o.region),
        scope="shared",
        needs=(service.key,),
    )
    tokens = iam.binding(
        "roles/iam.serviceAccountTokenCreator",
        f"serviceAccount:{pubsub_agent(project_number)}",
        iam.service_account(email),
        scope="shared",
        needs=(account.key,),
    )
    return [account, secret, value, reads, service, invoke, tokens, _push(o, email, url)]


def _deploy(o: Options, email: str) -> Command:
    image = f"{names.registry(o.region, o.project, o.repository)}/{names.DASHBOARD_IMAGE}:latest"
    dashboard = os.environ.get("DASHBOARD_URL", "")
    env = [f"--set-env-vars=DASHBOARD_URL={dashboard}"] if dashboard else []
    return Command.of(
        "run",
        "deploy",
        SERVICE,
        f"--image={image}",
        f"--region={o.region}",
        f"--service-account={email}",
        "--no-allow-unauthenticated",
        "--ingress=all",
        "--max-instances=1",  # one memory for the deduplication
        "--concurrency=8",
        "--command=gunicorn",
        f"--args=--bind=:8080,--workers=1,--threads=8,{SERVE}",
        f"--set-secrets={URL_VARIABLE}={SECRET}:latest",
        *env,
    )


def _push(o: Options, email: str, url: str) -> Resource:
    """intent-results pushed to ib-notifier, with the notifier's own account's OIDC tokens and
    120 s to acknowledge (a post and its retries); no dead letter: a result it cannot take is
    retried with backoff until Pub/Sub's retention ends."""
    return push_subscription(
        o,
        SUBSCRIPTION,
        names.RESULTS_TOPIC,
        url,
        "/",
        120,
        False,
        f"the service {SERVICE}",
        identity=email,
        scope="shared",
    )
