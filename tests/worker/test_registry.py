from __future__ import annotations

import pytest

import worker.intents  # noqa: F401 - registers the plugins
from worker import registry


def test_registered_by_name():
    spec = registry.get("ping")
    assert spec is not None and spec.name == "ping"
    assert registry.get("worker.intents.ping") is None
    assert registry.get("../ping") is None


def test_a_name_cannot_be_registered_twice():
    registry.intent("test-once")(lambda ctx, params: {})
    with pytest.raises(ValueError, match="registered twice"):
        registry.intent("test-once")(lambda ctx, params: {})
    registry._registry.pop("test-once")
