"""The floor: the operations an intent cannot avoid, issued directly by the bench against the
stack's emulators with the clients and settings the worker uses (one result per publish call,
waited for). What the worker takes beyond them is what it adds.

- a ping: one conditional create of its record, one publish of its result, one update (the
  note that the result went out);
- a rejection: one publish of its result and one commit of its record.

They write to a collection and publish on a topic of their own (with one subscription, as
`intent-results` has its tap), so nothing the worker reads or a subscriber follows sees them.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from deploy.stack import LocalStack
from tests.support import unique
from worker import results
from worker.results import ResultMessage, ResultStatus
from worker.settings import Settings

COLLECTION = "benchFloor"


class Floor:
    def __init__(self, stack: LocalStack) -> None:
        from google.cloud import firestore, pubsub_v1

        self.stack = stack
        self.db = firestore.Client(project=stack.options.project)
        self.publisher = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=1)
        )
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = stack.topic(unique("bench-floor"))
        self.subscription = stack.subscription(unique("bench-floor"))
        self.publisher.create_topic(name=self.topic)
        self.subscriber.create_subscription(name=self.subscription, topic=self.topic)
        self.settings = Settings.from_env(stack.worker_environment())

    def close(self) -> None:
        self.subscriber.delete_subscription(subscription=self.subscription)
        self.publisher.delete_topic(topic=self.topic)

    def __enter__(self) -> Floor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _result(self, intent_id: str, status: ResultStatus) -> ResultMessage:
        now = datetime.now(UTC)
        return results.build(
            settings=self.settings,
            id=intent_id,
            intent="ping",
            trading_mode="paper",
            status=status,
            message_id=intent_id,
            received_at=now,
            finished_at=now,
            result={"pong": True, **self.settings.worker_info},
        )

    def _publish(self, result: ResultMessage) -> str:
        data = json.dumps(result, separators=(",", ":")).encode()
        future = self.publisher.publish(self.topic, data, id=result["id"], status=result["status"])
        return future.result(timeout=30)

    def _record(self, result: ResultMessage) -> dict[str, Any]:
        return {
            "id": result["id"],
            "status": result["status"],
            "resultMessage": result,
            "resultPublished": False,
        }

    def ping(self) -> float:
        """One ping's floor, in ms."""
        intent_id = unique("floor")
        result = self._result(intent_id, "succeeded")
        ref = self.db.collection(COLLECTION).document(intent_id)
        t0 = time.perf_counter()
        ref.create(self._record(result))
        published = self._publish(result)
        ref.update({"resultPublished": True, "resultMessageId": published})
        return (time.perf_counter() - t0) * 1000

    def rejection(self) -> None:
        """One rejection's floor: publish, then one commit."""
        intent_id = unique("floor")
        result = self._result(intent_id, "rejected")
        self._publish(result)
        batch = self.db.batch()
        batch.create(self.db.collection(COLLECTION).document(intent_id), self._record(result))
        batch.commit()
