"""The strategy plugins. Importing this package registers every strategy the worker knows:
the modules are listed here (add yours to the import below)."""

from worker.strategies import builtin
from worker.strategies.registry import StrategyContext, get, names, strategy

__all__ = ["StrategyContext", "builtin", "get", "names", "strategy"]
