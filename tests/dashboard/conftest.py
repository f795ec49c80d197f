"""Fixtures: the dashboard app on the local stack's emulators, and a Flask test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.app import create_app
from dashboard.settings import Settings
from publisher.records import Records
from tests.dashboard import memory
from tests.dashboard.support import IntentsTap


def settings_for(stack, **overrides) -> Settings:
    base = {
        "modes": ("paper",),
        "project": stack.options.project,
        "firestore_timeout": 2.0,
        "publish_timeout": 5.0,
        "poll_seconds": 1.0,
    }
    return Settings(**{**base, **overrides})


@pytest.fixture
def make_client(stack):
    """A test client of a dashboard with the given settings (paper only by default)."""

    def make(**overrides):
        settings = settings_for(stack, **overrides)
        app = create_app(settings, Records(project=settings.project, timeout=2.0))
        app.testing = False  # errors render as pages, as in production
        return app.test_client()

    return make


@pytest.fixture
def client(make_client) -> Iterator:
    yield make_client()


@pytest.fixture
def intents_tap(stack):
    tap = IntentsTap(stack)
    try:
        yield tap
    finally:
        tap.close()


@pytest.fixture
def offline(monkeypatch) -> memory.Offline:
    """The dashboard without the local stack (tests/dashboard/memory.py)."""
    return memory.offline(monkeypatch)
