"""The strategy registry: strategies are plugins registered by name.

A strategy turns its config into signals: {instrument key: signal}, where an instrument key names
an entry of `config.instruments` and a signal is the fraction of the strategy's exposure to hold
(negative for short). The worker turns signals into target positions and orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading import market

StrategyFunction = Callable[["StrategyContext"], dict[str, float]]
_MISSING = object()


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may use: its settings, the configured instruments, and the gateway
    through small helpers (`contract`, `price`, `daily_bars`); `ib` is the connected
    ib_async.IB for anything else."""

    name: str
    settings: dict[str, Any]  # config.strategies[name]
    trading_mode: str
    ib: Any
    instruments: dict[str, Any] = field(default_factory=dict)  # config.instruments
    deadline: float | None = None  # the intent's (IntentContext.deadline): pacing waits end there
    _contracts: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def setting(self, key: str, default: Any = _MISSING) -> Any:
        """`config.strategies.{name}.{key}`; without a default, `config-missing` naming it."""
        value = self.settings.get(key)
        if value is not None:
            return value
        if default is not _MISSING:
            return default
        raise IntentFailed(
            "config-missing",
            f"config.strategies.{self.name}.{key} is missing: set it in config.yaml and run "
            "`python -m publisher config apply`",
        )

    def contract(self, key: str) -> Any:
        """The qualified ib_async contract of `config.instruments.{key}`."""
        if key not in self._contracts:
            self._contracts.update(market.contracts(self.ib, self.instruments, [key]))
        return self._contracts[key]

    def price(self, key: str) -> float:
        """A current price of the instrument (midpoint, else last, else close)."""
        contract = self.contract(key)
        return market.prices(self.ib, [contract])[contract.conId]

    def daily_bars(self, key: str, duration: str = "1 M") -> list[Any]:
        """Daily bars (ib_async BarData: date, open, high, low, close, volume), oldest first;
        an error from IB fails the intent naming the instrument. Paced to IB's limits within
        the intent's deadline (docs/market-data.md)."""
        return market.daily_bars(self.ib, self.contract(key), duration, key, self.deadline)


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
