"""The one push-subscription builder (deploy/cloud/worker_subscriptions.push_subscription) serves
the worker's subscriptions and the notifier's: each pushes with its own identity's OIDC token,
both retry with backoff, only the worker's dead-letter, and drift in any managed field is seen."""

from __future__ import annotations

from typing import Any

from deploy.cloud import notifier, worker_subscriptions
from deploy.cloud.options import Options
from worker import names

OPTIONS = Options(project="demo-proj", region="europe-west6", notifier=True)
URL = "https://ib-notifier-123.europe-west6.run.app"


class Described:
    """A gcloud stand-in that answers `subscriptions describe` with one subscription."""

    def __init__(self, subscription: dict[str, Any] | None) -> None:
        self.subscription = subscription

    def read_json(self, *args: str) -> dict[str, Any] | None:
        assert args[:3] == ("pubsub", "subscriptions", "describe")
        return self.subscription


def notifier_push():
    (push,) = [
        r for r in notifier.resources(OPTIONS, "123", "") if r.key.startswith("push subscription")
    ]
    return push


def flags(resource) -> list[str]:
    (create,) = resource.create({})
    return [a for a in create.argv if a.startswith("--")]


def test_the_notifier_s_push_comes_from_the_worker_s_builder():
    push = notifier_push()
    got = flags(push)
    assert f"--push-auth-service-account={OPTIONS.email(notifier.ACCOUNT)}" in got
    assert f"--push-endpoint={URL}/" in got and f"--push-auth-token-audience={URL}" in got
    assert "--ack-deadline=120" in got
    assert "--min-retry-delay=10s" in got and "--max-retry-delay=600s" in got  # backoff too now
    assert not any(a.startswith("--dead-letter-topic") for a in got)
    assert push.scope == "shared"  # one notifier for both modes
    worker = worker_subscriptions.push_subscription(
        OPTIONS, "worker-push-paper", "intents", "https://w", "/", 600, True, "the worker"
    )
    invoker = OPTIONS.email(names.invoker_account("paper"))
    assert f"--push-auth-service-account={invoker}" in flags(worker)
    assert worker.scope == "mode"


def described(**changes: Any) -> dict[str, Any]:
    subscription = {
        "topic": f"projects/demo-proj/topics/{names.RESULTS_TOPIC}",
        "pushConfig": {
            "pushEndpoint": f"{URL}/",
            "oidcToken": {
                "serviceAccountEmail": OPTIONS.email(notifier.ACCOUNT),
                "audience": URL,
            },
        },
        "ackDeadlineSeconds": 120,
        "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
    }
    subscription.update(changes)
    return subscription


def test_the_notifier_s_push_as_planned_has_no_drift_and_a_changed_field_is_drift():
    push = notifier_push()
    assert push.probe(Described(None)).present is False
    assert push.probe(Described(described())).drift == ()
    drift = push.probe(Described(described(ackDeadlineSeconds=10, retryPolicy={}))).drift
    assert any(d.startswith("ackDeadlineSeconds 10 -> 120") for d in drift)
    assert any(d.startswith("minimumBackoff None -> '10s'") for d in drift)
