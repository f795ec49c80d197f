"""The intent plugins. Importing this package registers every intent the worker knows."""

from worker.intents import (
    allocation,
    batch,
    cash_balancer,
    close_all,
    collect_market_data,
    ping,
    summary,
    trade_reconciliation,
    watch,
)

__all__ = [
    "allocation",
    "batch",
    "cash_balancer",
    "close_all",
    "collect_market_data",
    "ping",
    "summary",
    "trade_reconciliation",
    "watch",
]
