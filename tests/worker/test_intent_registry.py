from __future__ import annotations

import pytest

import worker.intents  # noqa: F401 - registers the plugins
from worker import intent_registry


def test_registered_by_name():
    spec = intent_registry.get("ping")
    assert spec is not None and spec.name == "ping"
    assert intent_registry.get("worker.intents.ping") is None
    assert intent_registry.get("../ping") is None


def test_a_name_cannot_be_registered_twice():
    intent_registry.intent("test-once")(lambda ctx, params: {})
    with pytest.raises(ValueError, match="registered twice"):
        intent_registry.intent("test-once")(lambda ctx, params: {})
    intent_registry._registry.pop("test-once")
