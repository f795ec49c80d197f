"""The one list of resources the set-up creates and the teardown removes, in creation order."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from deploy.cloud import access, extras, gateway_vm, monitoring, notifier, worker_subscriptions
from deploy.cloud.gcloud import Command, Gcloud
from deploy.cloud.options import Options
from deploy.cloud.plan import Resource, Seen, static
from worker import names

APIS = (
    "run.googleapis.com",
    "pubsub.googleapis.com",
    "firestore.googleapis.com",
    "secretmanager.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "storage.googleapis.com",
)
TTL_COLLECTION_GROUPS = ("intents", "booked")  # the worker's records with an expireAt
DEAD_LETTER_RETENTION = "7d"


def described(*argv: str) -> Callable[[Gcloud], Seen]:
    """A check by `describe`: it exists when gcloud can describe it."""
    return lambda gcloud: Seen(gcloud.read_json(*argv) is not None)


def simple(
    key: str, describe: tuple[str, ...], create: Command, delete: Command | None, scope: str
):
    return Resource(
        key=key,
        probe=described(*describe),
        create=static(create),
        delete=static(delete) if delete else static(),
        scope=scope,
    )


def apis(o: Options) -> Resource:
    wanted = list(APIS)
    if o.delivery == "eventarc":
        wanted.append("eventarc.googleapis.com")
    if o.dashboard_users:
        wanted.append("iap.googleapis.com")
    if o.alert_email:
        wanted.extend(("monitoring.googleapis.com", "logging.googleapis.com"))
    if o.gateway == "always-on":
        wanted.append("compute.googleapis.com")

    def probe(gcloud: Gcloud) -> Seen:
        listed = gcloud.read_json("services", "list", "--enabled") or []
        enabled = {(s.get("config") or {}).get("name") for s in listed}
        missing = [a for a in wanted if a not in enabled]
        return Seen(not missing, facts={"missing": " ".join(missing)})

    return Resource(
        key="APIs " + ", ".join(a.split(".")[0] for a in wanted),
        probe=probe,
        create=lambda facts: [Command.of("services", "enable", *facts["missing"].split())],
        scope="kept",
        dry_facts={"missing": " ".join(wanted)},
    )


def accounts(o: Options) -> list[Resource]:
    listed = [(names.worker_account(o.mode), "mode"), (names.invoker_account(o.mode), "mode")]
    listed.append((names.DEPLOYER_ACCOUNT, "shared"))
    if o.dashboard:
        listed.append((names.DASHBOARD_ACCOUNT, "shared"))
    return [
        simple(
            f"service account {name}",
            ("iam", "service-accounts", "describe", o.email(name)),
            Command.of("iam", "service-accounts", "create", name, f"--display-name={name}"),
            Command.of("iam", "service-accounts", "delete", o.email(name)),
            scope,
        )
        for name, scope in listed
    ]


def pubsub(o: Options) -> list[Resource]:
    topics = [
        simple(
            f"topic {topic}",
            ("pubsub", "topics", "describe", topic),
            Command.of("pubsub", "topics", "create", topic),
            Command.of("pubsub", "topics", "delete", topic),
            "shared",
        )
        for topic in (names.INTENTS_TOPIC, names.RESULTS_TOPIC, names.DEAD_LETTER_TOPIC)
    ]
    keep = names.DEAD_LETTER_KEEP_SUBSCRIPTION
    return [
        *topics,
        simple(
            f"subscription {keep} (dead letters kept {DEAD_LETTER_RETENTION} for people)",
            ("pubsub", "subscriptions", "describe", keep),
            Command.of(
                "pubsub",
                "subscriptions",
                "create",
                keep,
                f"--topic={names.DEAD_LETTER_TOPIC}",
                "--expiration-period=never",
                f"--message-retention-duration={DEAD_LETTER_RETENTION}",
                "--ack-deadline=60",
            ),
            Command.of("pubsub", "subscriptions", "delete", keep),
            "shared",
        ),
    ]


def firestore(o: Options) -> list[Resource]:
    database = simple(
        f"Firestore database (default) in {o.location}",
        ("firestore", "databases", "describe", "--database=(default)"),
        Command.of(
            "firestore",
            "databases",
            "create",
            "--database=(default)",
            f"--location={o.location}",
            "--type=firestore-native",
        ),
        None,
        "kept",
    )

    def ttl(group: str) -> Resource:
        def probe(gcloud: Gcloud) -> Seen:
            fields = gcloud.read_json(
                "firestore", "fields", "ttls", "list", f"--collection-group={group}"
            )
            return Seen(any(f.get("name", "").endswith("/fields/expireAt") for f in fields or []))

        return Resource(
            key=f"TTL policy on {group}.expireAt",
            probe=probe,
            create=static(
                Command.of(
                    "firestore",
                    "fields",
                    "ttls",
                    "update",
                    "expireAt",
                    f"--collection-group={group}",
                    "--enable-ttl",
                    "--async",
                )
            ),
            scope="kept",
            needs=(database.key,),
        )

    return [database, *(ttl(g) for g in TTL_COLLECTION_GROUPS), *extras.indexes(database.key)]


def secret(o: Options, credentials: Callable[[], str]) -> list[Resource]:
    if o.skip_secret:
        return []
    name = names.credentials_secret(o.mode)
    the_secret = simple(
        f"secret {name}",
        ("secrets", "describe", name),
        Command.of("secrets", "create", name, "--replication-policy=automatic"),
        Command.of("secrets", "delete", name),
        "mode",
    )

    def probe(gcloud: Gcloud) -> Seen:
        versions = gcloud.read_json("secrets", "versions", "list", name, "--filter=state=ENABLED")
        return Seen(bool(versions))

    version = Resource(
        key=f"a value of secret {name} (from standard input)",
        probe=probe,
        create=static(
            Command.of("secrets", "versions", "add", name, "--data-file=-", stdin=credentials)
        ),
        needs=(the_secret.key,),
    )
    return [the_secret, version]


def bucket(o: Options) -> Resource:
    url = f"gs://{o.project}_cloudbuild"
    return simple(
        f"Cloud Build source bucket {url}",
        ("storage", "buckets", "describe", url),
        Command.of(
            "storage",
            "buckets",
            "create",
            url,
            f"--location={o.region}",
            "--uniform-bucket-level-access",
        ),
        None,
        "kept",
    )


def repository(o: Options) -> Resource:
    return simple(
        f"Artifact Registry repository {o.repository}",
        ("artifacts", "repositories", "describe", o.repository, f"--location={o.region}"),
        Command.of(
            "artifacts",
            "repositories",
            "create",
            o.repository,
            "--repository-format=docker",
            f"--location={o.region}",
            "--description=IB worker and dashboard images",
        ),
        Command.of("artifacts", "repositories", "delete", o.repository, f"--location={o.region}"),
        "shared",
    )


def cloud_run_service(name: str, o: Options, scope: str) -> Resource:
    """Deployed by cloudbuild.yaml, never by the set-up; removed by the teardown."""
    return Resource(
        key=f"Cloud Run service {name}",
        probe=described("run", "services", "describe", name, f"--region={o.region}"),
        delete=static(Command.of("run", "services", "delete", name, f"--region={o.region}")),
        scope=scope,
    )


def publisher_python() -> str:
    """The Python that runs `python -m publisher` (SETUP_SCHEDULES_PYTHON in tests)."""
    return os.environ.get("SETUP_SCHEDULES_PYTHON") or sys.executable


def everything(o: Options, project_number: str, credentials: Callable[[], str]) -> list[Resource]:
    """The whole list for one mode, in the order it is created (a teardown goes backwards)."""
    worker = cloud_run_service(names.service(o.mode), o, "mode")
    dashboard = cloud_run_service(names.DASHBOARD_SERVICE, o, "shared") if o.dashboard else None
    stores = firestore(o)
    config = extras.trading_config(o, publisher_python(), stores[0].key)
    listed: list[Resource] = [
        apis(o),
        repository(o),
        *accounts(o),
        *pubsub(o),
        *stores,
        *([] if o.skip_config else [config]),
        *secret(o, credentials),
        bucket(o),
        worker,
        *([dashboard] if dashboard else []),
        *worker_subscriptions.resources(o, project_number, worker.key),
        *access.grants(o, project_number, worker.key),
        *extras.dashboard_access(o, project_number, dashboard.key if dashboard else ""),
        *([] if o.skip_schedules else [extras.schedules(o, publisher_python())]),
        *monitoring.resources(o),
        *notifier.resources(o, project_number, dashboard.key if dashboard else ""),
        *gateway_vm.resources(o, worker.key),
    ]
    keys = [r.key for r in listed]
    duplicated = {k for k in keys if keys.count(k) > 1}
    assert not duplicated, duplicated
    return listed
