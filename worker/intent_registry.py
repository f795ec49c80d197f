"""Intents as plugins registered by name.

An intent is a function decorated with `@intent("name")`. The worker looks intents up by the
name in the message; it never imports a module named by message content. The plugin modules are
listed once, in `worker.intents`, and importing that package (the pipeline does) registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.exceptions import IntentFailed
from worker.settings import Settings


@dataclass
class IntentContext:
    """What an intent may use while it runs."""

    id: str
    intent: str
    trading_mode: str
    settings: Settings
    attempt: int
    audit: Callable[[str, dict[str, Any]], None]
    # An audit event under another intent's id: fills found later for the intent that ordered.
    audit_intent: Callable[[str, str, dict[str, Any]], None] | None = None
    record_id: str = ""  # `intents/{record_id}`: the message's id (`id` differs in a batch step)
    open_gateway: Callable[[], Any] | None = None
    db: Any = None  # the Firestore client, for config and holdings
    explicit_mode: bool = False
    # Orders sent so far, shared by the steps of a batch: risk limits are per intent.
    placed: list[Any] = field(default_factory=list)
    # False once another instance took the intent over (this attempt's lease was lost).
    owns: Callable[[], bool] = lambda: True
    # time.monotonic() by which the attempt should be done (its deadline less a margin for the
    # result, or the message's TTL if sooner); None: unbounded. Waits (pacing) stay within it.
    deadline: float | None = None

    def check_owner(self) -> None:
        """Raise before an order goes out when another attempt now owns the intent."""
        if not self.owns():
            raise IntentFailed(
                "lease-lost", "another instance took this intent over", retryable=True
            )

    def ib(self) -> Any:
        """The connected `ib_async.IB` of this worker's gateway session (started on first use)."""
        if self.open_gateway is None:
            raise IntentFailed("no-gateway", "this worker has no gateway session")
        return self.open_gateway()


IntentFunction = Callable[[IntentContext, dict[str, Any]], dict[str, Any]]


def _never(params: dict[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class IntentSpec:
    """A registered intent: its name, its function, and whether a run with given params is free
    of side effects (no broker, gateway or Firestore use: running it twice changes nothing), in
    which case the pipeline runs it before recording anything, with no claim first."""

    name: str
    run: IntentFunction
    side_effect_free: Callable[[dict[str, Any]], bool] = _never


_registry: dict[str, IntentSpec] = {}


def intent(
    name: str, *, side_effect_free: Callable[[dict[str, Any]], bool] = _never
) -> Callable[[IntentFunction], IntentFunction]:
    """Register the decorated function as the intent `name`; `side_effect_free(params)` says
    when a run has no side effects at all (see IntentSpec)."""

    def register(func: IntentFunction) -> IntentFunction:
        if name in _registry and _registry[name].run is not func:
            raise ValueError(f"intent {name!r} is registered twice")
        _registry[name] = IntentSpec(name=name, run=func, side_effect_free=side_effect_free)
        return func

    return register


def get(name: str) -> IntentSpec | None:
    return _registry.get(name)


def names() -> list[str]:
    return sorted(_registry)
