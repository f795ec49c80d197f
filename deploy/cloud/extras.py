"""The dashboard's way in (Identity-Aware Proxy), Firestore's composite indexes and the Cloud
Scheduler jobs: resources that come from files or options rather than from the names alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from deploy.cloud import iam
from deploy.cloud.gcloud import Command, Gcloud
from deploy.cloud.gcloud import InputError as SetupError
from deploy.cloud.options import Options
from deploy.cloud.plan import Facts, Resource, Seen, static
from worker import names

ROOT = Path(__file__).resolve().parents[2]
INDEXES_FILE = ROOT / "deploy" / "firestore-indexes.yaml"
SCHEDULES_FILE = ROOT / "publisher" / "schedules.yaml"
CONFIG_FILE = ROOT / "config.yaml"
IAP_AGENT = "service-{number}@gcp-sa-iap.iam.gserviceaccount.com"
IAP_ACCESSOR = "roles/iap.httpsResourceAccessor"
ORDERS = ("ascending", "descending")
SHORT = {"ascending": "asc", "descending": "desc"}


# -- Identity-Aware Proxy in front of the dashboard -----------------------------------------------


def dashboard_access(o: Options, project_number: str, service_key: str) -> list[Resource]:
    """IAP on ib-dashboard and the accounts let through, when --dashboard-user is given."""
    if not o.dashboard or not o.dashboard_users:
        return []
    service, region = names.DASHBOARD_SERVICE, f"--region={o.region}"

    def iap_on(gcloud: Gcloud) -> Seen:
        found = gcloud.read_json("run", "services", "describe", service, region) or {}
        annotations = (found.get("metadata") or {}).get("annotations") or {}
        return Seen(annotations.get("run.googleapis.com/iap-enabled") == "true")

    enable = Resource(
        key=f"Identity-Aware Proxy on service {service}",
        probe=iap_on,
        create=static(Command.of("beta", "run", "services", "update", service, region, "--iap")),
        scope="shared",
        needs=(service_key,),
    )
    agent = f"serviceAccount:{IAP_AGENT.format(number=project_number)}"
    invoker = iam.binding(
        "roles/run.invoker",
        agent,
        iam.run_service(service, o.region),
        scope="shared",
        needs=(service_key,),
    )
    # IAP's service agent may not exist yet in a new project: create it first (idempotent).
    identity = Command.of("beta", "services", "identity", "create", "--service=iap.googleapis.com")
    made = invoker.create

    def create(facts: Facts) -> list[Command]:
        return [identity, *made(facts)]

    invoker = Resource(
        key=invoker.key,
        probe=invoker.probe,
        create=create,
        delete=invoker.delete,
        scope="shared",
        needs=invoker.needs,
    )
    users = [
        iam.binding(
            IAP_ACCESSOR,
            user,
            iam.iap_service(service, o.region),
            scope="shared",
            needs=(enable.key,),
        )
        for user in o.dashboard_users
    ]
    return [enable, invoker, *users]


# -- Firestore composite indexes (deploy/firestore-indexes.yaml, when there is one) --------------


def load_indexes(path: Path = INDEXES_FILE) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """[(collection group, ((field, order), ...)), ...] from the file; [] without a file.

    The file is a list of {collection: NAME, fields: [FIELD, "FIELD desc", {field: F, order:
    descending}, ...]}; a field's order is ascending unless it says otherwise.
    """
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        raise SetupError(f"{path.name}: not YAML: {exc}") from None
    if isinstance(data, dict):
        data = data.get("indexes", [])
    if not isinstance(data, list):
        raise SetupError(f"{path.name}: expected a list of indexes")
    return [_index(path.name, n, item) for n, item in enumerate(data, 1)]


def _index(file: str, n: int, item: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    where = f"{file}: index {n}"
    if not isinstance(item, dict):
        raise SetupError(f"{where}: expected a mapping with collection and fields")
    group = item.get("collection") or item.get("collectionGroup")
    fields = item.get("fields")
    if not isinstance(group, str) or not group.replace("_", "").replace("-", "").isalnum():
        raise SetupError(f"{where}: collection must be a collection name")
    if not isinstance(fields, list) or len(fields) < 2:
        raise SetupError(f"{where}: a composite index needs at least two fields")
    return group, tuple(_field(where, f) for f in fields)


def _field(where: str, raw: Any) -> tuple[str, str]:
    name: object
    order: object
    if isinstance(raw, str):
        name, _, order = raw.partition(" ")
        order = {"": "ascending", "asc": "ascending", "desc": "descending"}.get(str(order), order)
    elif isinstance(raw, dict):
        name, order = raw.get("field") or raw.get("fieldPath"), raw.get("order", "ascending")
    else:
        raise SetupError(f"{where}: a field is a name or {{field, order}}")
    order = str(order).lower()
    if not isinstance(name, str) or not name or order not in ORDERS:
        raise SetupError(f"{where}: field {raw!r}: a name and ascending or descending")
    return name, order


def indexes(database_key: str) -> list[Resource]:
    return [_index_resource(group, fields, database_key) for group, fields in load_indexes()]


def _index_resource(group: str, fields: tuple[tuple[str, str], ...], database_key: str) -> Resource:
    wanted = [(name, order.upper()) for name, order in fields]

    def probe(gcloud: Gcloud) -> Seen:
        listed = gcloud.read_json("firestore", "indexes", "composite", "list") or []
        for index in listed:
            have = [
                (f.get("fieldPath"), f.get("order"))
                for f in index.get("fields") or []
                if f.get("fieldPath") != "__name__"
            ]
            if f"/collectionGroups/{group}/" in index.get("name", "") and have == wanted:
                return Seen(True)
        return Seen(False)

    configs = [f"--field-config=field-path={name},order={order}" for name, order in fields]
    return Resource(
        key=f"Firestore index on {group} ({', '.join(f'{n} {SHORT[o]}' for n, o in fields)})",
        probe=probe,
        create=static(
            Command.of(
                "firestore",
                "indexes",
                "composite",
                "create",
                f"--collection-group={group}",
                "--query-scope=collection",
                *configs,
                "--async",
            )
        ),
        scope="kept",
        needs=(database_key,),
    )


# -- the trading config (config.yaml) -------------------------------------------------------------


def trading_config(o: Options, python: str, database_key: str) -> Resource:
    """`config/common` and `config/MODE` from config.yaml, applied by the publisher itself (it
    validates the file, prints the difference and writes only what changed). Data: kept by the
    teardown, like the database."""
    apply = Command.program(
        python, "-m", "publisher", "config", "apply", f"--project={o.project}", f"--mode={o.mode}"
    )
    return Resource(
        key=f"trading config of {CONFIG_FILE.relative_to(ROOT)} for {o.mode}",
        probe=lambda gcloud: Seen(False),
        create=static(apply),
        scope="kept",
        always=True,
        needs=(database_key,),
    )


# -- Cloud Scheduler jobs (publisher/schedules.yaml) ---------------------------------------------


def schedules(o: Options, python: str) -> Resource:
    """The jobs of publisher/schedules.yaml, applied by the publisher itself (it plans create and
    update on its own); the teardown deletes every job that publishes to `intents`."""
    location = f"--location={o.region}"
    topic = f"projects/{o.project}/topics/{names.INTENTS_TOPIC}"

    def probe(gcloud: Gcloud) -> Seen:
        listed = gcloud.read_json(
            "scheduler", "jobs", "list", location, f"--filter=pubsubTarget.topicName={topic}"
        )
        jobs = [job["name"].rsplit("/", 1)[-1] for job in listed or []]
        return Seen(bool(jobs), facts={"jobs": " ".join(jobs)})

    def removals(facts: Facts) -> list[Command]:
        return [
            Command.of("scheduler", "jobs", "delete", job, location)
            for job in facts.get("jobs", "").split()
        ]

    apply = Command.program(
        python,
        "-m",
        "publisher",
        "schedules",
        "apply",
        f"--project={o.project}",
        f"--region={o.region}",
    )
    return Resource(
        key=f"Cloud Scheduler jobs of {SCHEDULES_FILE.relative_to(ROOT)}",
        probe=probe,
        create=static(apply),
        delete=removals,
        scope="shared",
        always=True,
        dry_facts={"jobs": "JOB"},
    )
