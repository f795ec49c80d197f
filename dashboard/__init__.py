"""The dashboard: a small Flask app that shows what the worker recorded and publishes intents
through the publisher library. `python -m dashboard` runs it; `create_app()` builds it."""

from dashboard.app import create_app

__all__ = ["create_app"]
