"""Helpers of the dashboard tests."""

from __future__ import annotations

import re


def form_of(html: str) -> dict[str, str]:
    """The hidden fields of the publish form (csrf, submission, intent)."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


class IntentsTap:
    """A pull subscription on `intents`: what the dashboard really published."""

    def __init__(self, stack) -> None:
        from google.cloud import pubsub_v1

        from deploy.stack import INTENTS_TOPIC
        from tests.support import unique

        self.client = pubsub_v1.SubscriberClient()
        self.name = stack.subscription(unique("intents-tap"))
        self.client.create_subscription(name=self.name, topic=stack.topic(INTENTS_TOPIC))

    def messages(self, settle: float = 2.0) -> list[tuple[dict, dict]]:
        """(data, attributes) of every message that arrives within `settle` seconds."""
        import json
        import time

        found, deadline = [], time.monotonic() + settle
        while time.monotonic() < deadline:
            response = self.client.pull(subscription=self.name, max_messages=50, timeout=1)
            if response.received_messages:
                self.client.acknowledge(
                    subscription=self.name, ack_ids=[m.ack_id for m in response.received_messages]
                )
            for m in response.received_messages:
                found.append((json.loads(m.message.data), dict(m.message.attributes)))
        return found

    def close(self) -> None:
        self.client.delete_subscription(subscription=self.name)
