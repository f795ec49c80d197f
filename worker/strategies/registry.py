"""The strategy registry: strategies are plugins registered by name.

A strategy turns its config into signals: {instrument key: signal}, where an instrument key names
an entry of `config.instruments` and a signal is the fraction of the strategy's exposure to hold
(negative for short). The worker turns signals into target positions and orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

StrategyFunction = Callable[["StrategyContext"], dict[str, float]]


@dataclass(frozen=True)
class StrategyContext:
    name: str
    settings: dict[str, Any]  # config.strategies[name]
    trading_mode: str
    ib: Any


_strategies: dict[str, StrategyFunction] = {}


def strategy(name: str) -> Callable[[StrategyFunction], StrategyFunction]:
    def register(func: StrategyFunction) -> StrategyFunction:
        if name in _strategies and _strategies[name] is not func:
            raise ValueError(f"strategy {name!r} is registered twice")
        _strategies[name] = func
        return func

    return register


def get(name: str) -> StrategyFunction | None:
    return _strategies.get(name)


def names() -> list[str]:
    return sorted(_strategies)
