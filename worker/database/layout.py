"""An intent record's key (`intents/{mode}:{id}`) and the statuses it can have: what the worker
writes and the publisher and the dashboard read."""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["running", "received", "succeeded", "failed", "rejected", "expired"]
Terminal = Literal["succeeded", "failed", "rejected", "expired"]
TERMINAL: tuple[Terminal, ...] = get_args(Terminal)
STATUSES: tuple[Status, ...] = get_args(Status)


def record_key(trading_mode: str, intent_id: str) -> str:
    """The document key of an intent: `intents/{mode}:{id}`. The mode keeps paper and live apart
    (the same id may run in both), and the prefix makes every valid id a key Firestore accepts
    (never `.`, `..` or `__x__`)."""
    return f"{trading_mode}:{intent_id}"
