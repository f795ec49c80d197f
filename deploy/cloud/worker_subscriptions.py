"""How messages reach the worker: the push subscriptions (or the Eventarc trigger) to its URL.

The set-up owns every subscription and trigger (cloudbuild.yaml creates none): the worker's URL
is known before its first deploy (Cloud Run's deterministic URL), and the build account then
needs no Pub/Sub rights at all, so it can neither publish intents nor redirect them.
"""

from __future__ import annotations

from typing import Any

from deploy.cloud import iam
from deploy.cloud.gcloud import Command, Gcloud
from deploy.cloud.options import Options
from deploy.cloud.plan import Facts, Resource, Seen, static
from worker import names

MIN_RETRY_DELAY, MAX_RETRY_DELAY = "10s", "600s"
PUBSUB_AGENT = "service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"
EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


def pubsub_agent(project_number: str) -> str:
    return PUBSUB_AGENT.format(number=project_number)


def topic_path(o: Options, topic: str) -> str:
    return f"projects/{o.project}/topics/{topic}"


def _retry(o: Options) -> list[str]:
    return [f"--min-retry-delay={MIN_RETRY_DELAY}", f"--max-retry-delay={MAX_RETRY_DELAY}"]


def _dead_letter(o: Options) -> list[str]:
    return [
        f"--dead-letter-topic={topic_path(o, names.DEAD_LETTER_TOPIC)}",
        f"--max-delivery-attempts={o.max_delivery_attempts}",
    ]


def _differences(have: dict[str, Any], want: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        f"{key} {have.get(key)!r} -> {value!r}"
        for key, value in want.items()
        if have.get(key) != value
    )


def _flattened(sub: dict[str, Any]) -> dict[str, Any]:
    """The fields of a described subscription that the set-up manages."""
    push = sub.get("pushConfig") or {}
    token = push.get("oidcToken") or {}
    retry = sub.get("retryPolicy") or {}
    dead = sub.get("deadLetterPolicy") or {}
    return {
        "topic": sub.get("topic"),
        "endpoint": push.get("pushEndpoint"),
        "identity": token.get("serviceAccountEmail"),
        "audience": token.get("audience"),
        "ackDeadlineSeconds": int(sub.get("ackDeadlineSeconds") or 0),
        "minimumBackoff": retry.get("minimumBackoff"),
        "maximumBackoff": retry.get("maximumBackoff"),
        "deadLetterTopic": dead.get("deadLetterTopic"),
        "maxDeliveryAttempts": dead.get("maxDeliveryAttempts"),
    }


def push_subscription(
    o: Options,
    name: str,
    topic: str,
    url: str,
    path: str,
    ack: int,
    dead_letter: bool,
    needs: str,
    *,
    identity: str | None = None,
    scope: str = "mode",
) -> Resource:
    """A push subscription to a Cloud Run service at `url` with OIDC tokens as `identity` (the
    worker's: ib-invoker-MODE), retried with backoff; updated on drift. The one builder of the
    worker's subscriptions and the notifier's (deploy/cloud/notifier.py)."""
    invoker = identity or o.email(names.invoker_account(o.mode))
    endpoint = url + path
    settings = [
        f"--push-endpoint={endpoint}",
        f"--push-auth-service-account={invoker}",
        f"--push-auth-token-audience={url}",
        f"--ack-deadline={ack}",
        *_retry(o),
        *(_dead_letter(o) if dead_letter else []),
    ]
    want = {
        "topic": topic_path(o, topic),
        "endpoint": endpoint,
        "identity": invoker,
        "audience": url,
        "ackDeadlineSeconds": ack,
        "minimumBackoff": MIN_RETRY_DELAY,
        "maximumBackoff": MAX_RETRY_DELAY,
        "deadLetterTopic": topic_path(o, names.DEAD_LETTER_TOPIC) if dead_letter else None,
        "maxDeliveryAttempts": o.max_delivery_attempts if dead_letter else None,
    }

    def probe(gcloud: Gcloud) -> Seen:
        have = gcloud.read_json("pubsub", "subscriptions", "describe", name)
        if have is None:
            return Seen(False)
        return Seen(True, drift=_differences(_flattened(have), want))

    update = [*settings] if dead_letter else [*settings, "--clear-dead-letter-policy"]
    return Resource(
        key=f"push subscription {name} ({topic} -> {endpoint})",
        probe=probe,
        create=static(
            Command.of(
                "pubsub",
                "subscriptions",
                "create",
                name,
                f"--topic={topic}",
                "--expiration-period=never",
                *settings,
            )
        ),
        update=static(Command.of("pubsub", "subscriptions", "update", name, *update)),
        delete=static(Command.of("pubsub", "subscriptions", "delete", name)),
        scope=scope,
        note=f"before {needs.split()[-1]} exists, deliveries are retried with backoff",
    )


def trigger(o: Options, needs: str) -> list[Resource]:
    """Eventarc delivery: the trigger, then its subscription's policy and dead-letter grant."""
    name = names.trigger(o.mode)
    location = f"--location={o.region}"

    def locate(gcloud: Gcloud) -> Seen:
        found = gcloud.read_json("eventarc", "triggers", "describe", name, location)
        if found is None:
            return Seen(False)
        path = ((found.get("transport") or {}).get("pubsub") or {}).get("subscription", "")
        return Seen(bool(path), facts={"subscription": path.rsplit("/", 1)[-1]})

    created = Resource(
        key=f"Eventarc trigger {name} ({names.INTENTS_TOPIC} -> {names.service(o.mode)})",
        probe=locate,
        create=static(
            Command.of(
                "eventarc",
                "triggers",
                "create",
                name,
                location,
                f"--destination-run-service={names.service(o.mode)}",
                f"--destination-run-region={o.region}",
                "--destination-run-path=/",
                f"--event-filters=type={EVENT_TYPE}",
                f"--transport-topic={topic_path(o, names.INTENTS_TOPIC)}",
                f"--service-account={o.email(names.invoker_account(o.mode))}",
            )
        ),
        delete=static(Command.of("eventarc", "triggers", "delete", name, location)),
        needs=(needs,),
    )
    want = {
        "ackDeadlineSeconds": names.ACK_DEADLINE_SECONDS,
        "minimumBackoff": MIN_RETRY_DELAY,
        "maximumBackoff": MAX_RETRY_DELAY,
        "deadLetterTopic": topic_path(o, names.DEAD_LETTER_TOPIC),
        "maxDeliveryAttempts": o.max_delivery_attempts,
    }

    def policy_probe(gcloud: Gcloud) -> Seen:
        found = locate(gcloud)
        if not found.present:
            return Seen(False)
        sub = gcloud.read_json("pubsub", "subscriptions", "describe", found.facts["subscription"])
        flat = _flattened(sub or {})
        return Seen(True, drift=_differences(flat, want), facts=found.facts)

    def set_policy(facts: Facts) -> list[Command]:
        return [
            Command.of(
                "pubsub",
                "subscriptions",
                "update",
                facts["subscription"],
                f"--ack-deadline={names.ACK_DEADLINE_SECONDS}",
                *_retry(o),
                *_dead_letter(o),
            )
        ]

    policy = Resource(
        key=f"delivery policy of trigger {name}'s subscription",
        probe=policy_probe,
        create=set_policy,
        update=set_policy,
        needs=(created.key,),
        dry_facts={"subscription": "TRIGGER_SUBSCRIPTION"},
    )
    return [created, policy]


def resources(o: Options, project_number: str, service_key: str) -> list[Resource]:
    url = names.service_url(names.service(o.mode), project_number, o.region)
    dead = push_subscription(
        o,
        names.dead_letter_subscription(o.mode),
        names.DEAD_LETTER_TOPIC,
        url,
        names.DEAD_LETTER_PATH,
        names.DEAD_LETTER_ACK_DEADLINE_SECONDS,
        dead_letter=False,
        needs=service_key,
    )
    if o.delivery == "eventarc":
        return [*trigger(o, service_key), dead]
    intents = push_subscription(
        o,
        names.push_subscription(o.mode),
        names.INTENTS_TOPIC,
        url,
        "/",
        names.ACK_DEADLINE_SECONDS,
        dead_letter=True,
        needs=service_key,
    )
    return [intents, dead]


def trigger_subscription(o: Options) -> iam.Target:
    return iam.Target(
        f"trigger {names.trigger(o.mode)}'s subscription",
        ("pubsub", "subscriptions"),
        "{subscription}",
    )
