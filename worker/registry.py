"""Intents as plugins registered by name.

An intent is a function decorated with `@intent("name")`. The worker looks intents up by the
name in the message; it never imports a module named by message content: the plugin modules are
listed once, in `worker.intents`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.config import Settings


@dataclass
class IntentContext:
    """What an intent may use while it runs."""

    id: str
    intent: str
    trading_mode: str
    settings: Settings
    attempt: int
    deadline: datetime
    audit: Callable[[str, dict[str, Any]], None]


IntentFunction = Callable[[IntentContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class IntentSpec:
    """A registered intent: its name, its function and whether it needs an IB session."""

    name: str
    run: IntentFunction
    needs_gateway: bool = False


class IntentFailed(Exception):
    """An intent ended in failure; `retryable` says whether another attempt could succeed."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


_registry: dict[str, IntentSpec] = {}
_loaded = False


def intent(name: str, *, needs_gateway: bool = False) -> Callable[[IntentFunction], IntentFunction]:
    """Register the decorated function as the intent `name`."""

    def register(func: IntentFunction) -> IntentFunction:
        if name in _registry and _registry[name].run is not func:
            raise ValueError(f"intent {name!r} is registered twice")
        _registry[name] = IntentSpec(name=name, run=func, needs_gateway=needs_gateway)
        return func

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        importlib.import_module("worker.intents")
        _loaded = True


def get(name: str) -> IntentSpec | None:
    _load()
    return _registry.get(name)


def names() -> list[str]:
    _load()
    return sorted(_registry)
