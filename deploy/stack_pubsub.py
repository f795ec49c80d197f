"""The local stack's Pub/Sub, as production has it: the intents, results and dead-letter topics,
the kept dead letters and the results tap, and the push subscriptions to the worker (intents,
with retry and dead-letter policies) and to its dead-letter path (every dead letter ends in a
result: the worker closes its intent)."""

from __future__ import annotations

import contextlib

from worker import names


def topic(project: str, name: str) -> str:
    return f"projects/{project}/topics/{name}"


def subscription(project: str, name: str) -> str:
    return f"projects/{project}/subscriptions/{name}"


def create_topics(project: str) -> str:
    """The topics and the pull subscriptions on them; what was created, in words."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topics = (names.INTENTS_TOPIC, names.RESULTS_TOPIC, names.DEAD_LETTER_TOPIC)
    for name in topics:
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(name=topic(project, name))
    for sub, on in (
        (names.DEAD_LETTER_KEEP_SUBSCRIPTION, names.DEAD_LETTER_TOPIC),
        (names.RESULTS_TAP_SUBSCRIPTION, names.RESULTS_TOPIC),
    ):
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(
                name=subscription(project, sub), topic=topic(project, on)
            )
    return "topics " + ", ".join(topics) + " created"


def create_push_subscriptions(
    project: str,
    trading_mode: str,
    worker_url: str,
    retry_backoff: tuple[int, int],
    max_delivery_attempts: int,
) -> str:
    """The worker's two push subscriptions; what was created, in words."""
    from google.cloud import pubsub_v1

    low, high = retry_backoff
    retry = {"minimum_backoff": {"seconds": low}, "maximum_backoff": {"seconds": high}}
    intents = names.push_subscription(trading_mode)
    pubsub_v1.SubscriberClient().create_subscription(
        request={
            "name": subscription(project, intents),
            "topic": topic(project, names.INTENTS_TOPIC),
            "push_config": {"push_endpoint": worker_url},
            "ack_deadline_seconds": names.ACK_DEADLINE_SECONDS,
            "retry_policy": retry,
            "dead_letter_policy": {
                "dead_letter_topic": topic(project, names.DEAD_LETTER_TOPIC),
                "max_delivery_attempts": max_delivery_attempts,
            },
        }
    )
    closer = names.dead_letter_subscription(trading_mode)
    endpoint = worker_url.rstrip("/") + names.DEAD_LETTER_PATH
    pubsub_v1.SubscriberClient().create_subscription(
        request={
            "name": subscription(project, closer),
            "topic": topic(project, names.DEAD_LETTER_TOPIC),
            "push_config": {"push_endpoint": endpoint},
            "ack_deadline_seconds": names.DEAD_LETTER_ACK_DEADLINE_SECONDS,
            "retry_policy": retry,
        }
    )
    return f"push subscriptions {intents} -> {worker_url}, {closer} -> {endpoint}"
