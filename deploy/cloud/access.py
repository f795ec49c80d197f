"""Who may do what: every grant of the set-up, each on the one resource it is for.

Why each role is the least that works is in docs/security.md ("IAM: least privilege").
"""

from __future__ import annotations

from deploy.cloud import iam
from deploy.cloud.gcloud import Gcloud
from deploy.cloud.options import Options
from deploy.cloud.plan import Resource, Seen
from deploy.cloud.worker_subscriptions import pubsub_agent, trigger_subscription
from worker import names

# Project-wide roles an older set-up gave the build account; removed wherever they are found.
DEPLOYER_ROLES_NO_LONGER_GIVEN = ("roles/run.admin", "roles/pubsub.editor", "roles/eventarc.admin")


def sa(email: str) -> str:
    return f"serviceAccount:{email}"


def worker_grants(o: Options) -> list[Resource]:
    worker = sa(o.email(names.worker_account(o.mode)))
    listed = [
        iam.binding("roles/datastore.user", worker, iam.project(o.project)),
        iam.binding("roles/pubsub.publisher", worker, iam.topic(names.RESULTS_TOPIC)),
    ]
    if not o.skip_secret:
        secret = names.credentials_secret(o.mode)
        listed.insert(
            0, iam.binding("roles/secretmanager.secretAccessor", worker, iam.secret(secret))
        )
    return listed


def delivery_grants(o: Options, project_number: str, service_key: str) -> list[Resource]:
    invoker_email = o.email(names.invoker_account(o.mode))
    agent = sa(pubsub_agent(project_number))
    listed = [
        iam.binding(
            "roles/run.invoker",
            sa(invoker_email),
            iam.run_service(names.service(o.mode), o.region),
            needs=(service_key,),
        ),
        # Pub/Sub forwards undeliverable messages as its service agent ...
        iam.binding(
            "roles/pubsub.publisher", agent, iam.topic(names.DEAD_LETTER_TOPIC), scope="shared"
        ),
        # ... and signs the pushes' OIDC tokens as the invoker.
        iam.binding(
            "roles/iam.serviceAccountTokenCreator", agent, iam.service_account(invoker_email)
        ),
    ]
    if o.delivery == "push":
        sub = iam.subscription(names.push_subscription(o.mode))
        listed.insert(2, iam.binding("roles/pubsub.subscriber", agent, sub))
    else:
        trigger = names.trigger(o.mode)
        listed.insert(
            2,
            iam.binding(
                "roles/pubsub.subscriber",
                agent,
                trigger_subscription(o),
                needs=(f"delivery policy of trigger {trigger}'s subscription",),
                locate=_trigger_locator(o),
            ),
        )
    return listed


def _trigger_locator(o: Options):
    name, location = names.trigger(o.mode), f"--location={o.region}"

    def locate(gcloud: Gcloud) -> Seen:
        found = gcloud.read_json("eventarc", "triggers", "describe", name, location)
        path = (((found or {}).get("transport") or {}).get("pubsub") or {}).get("subscription")
        return Seen(bool(path), facts={"subscription": (path or "").rsplit("/", 1)[-1]})

    return locate


def deployer_grants(o: Options) -> list[Resource]:
    deployer = sa(o.email(names.DEPLOYER_ACCOUNT))
    project = iam.project(o.project)
    listed = [
        iam.binding("roles/run.developer", deployer, project, scope="shared"),
        iam.binding("roles/logging.logWriter", deployer, project, scope="shared"),
        iam.binding(
            "roles/artifactregistry.repoAdmin",
            deployer,
            iam.repository(o.repository, o.region),
            scope="shared",
        ),
        iam.binding(
            "roles/storage.objectViewer",
            deployer,
            iam.bucket(f"gs://{o.project}_cloudbuild"),
            scope="shared",
        ),
        iam.binding(
            "roles/iam.serviceAccountUser",
            deployer,
            iam.service_account(o.email(names.worker_account(o.mode))),
        ),
    ]
    if o.dashboard:
        listed.append(
            iam.binding(
                "roles/iam.serviceAccountUser",
                deployer,
                iam.service_account(o.email(names.DASHBOARD_ACCOUNT)),
                scope="shared",
            )
        )
    gone = [
        iam.binding(role, deployer, project, scope="shared", want=False, note="no longer given")
        for role in DEPLOYER_ROLES_NO_LONGER_GIVEN
    ]
    invoker = iam.service_account(o.email(names.invoker_account(o.mode)))
    gone.append(
        iam.binding(
            "roles/iam.serviceAccountUser", deployer, invoker, want=False, note="no longer given"
        )
    )
    return listed + gone


def dashboard_grants(o: Options) -> list[Resource]:
    if not o.dashboard:
        return []
    dashboard = sa(o.email(names.DASHBOARD_ACCOUNT))
    return [
        iam.binding("roles/datastore.viewer", dashboard, iam.project(o.project), scope="shared"),
        iam.binding(
            "roles/pubsub.publisher", dashboard, iam.topic(names.INTENTS_TOPIC), scope="shared"
        ),
    ]


def grants(o: Options, project_number: str, service_key: str) -> list[Resource]:
    return [
        *worker_grants(o),
        *delivery_grants(o, project_number, service_key),
        *deployer_grants(o),
        *dashboard_grants(o),
    ]
