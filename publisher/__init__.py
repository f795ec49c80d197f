"""Publish intents, wait for and follow their results, and keep Cloud Scheduler jobs as code.

from publisher import publish_intent, wait_for_result
intent_id = publish_intent("summary")
result = wait_for_result(intent_id, timeout=300)
"""

from publisher.client import (
    PublishError,
    ResultWaiter,
    build_message,
    follow_results,
    publish_intent,
    wait_for_result,
)

__all__ = [
    "PublishError",
    "ResultWaiter",
    "build_message",
    "follow_results",
    "publish_intent",
    "wait_for_result",
]
