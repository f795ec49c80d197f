"""Broker state that outlives the process: orders, executions, positions and cash in a JSON file.

A real gateway forgets nothing when it restarts: the account keeps its positions and the day's
executions. With `--persist FILE` the simulator does the same, so a worker that starts a fresh
simulator for every session still sees what earlier sessions traded.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.broker import Broker, Execution, Order
from simulator.instruments import Position
from simulator.state import State


def broker_json(broker: Broker) -> dict[str, Any]:
    """Orders and executions as JSON (instruments by conId)."""
    return {
        "orders": [{**asdict(o), "instrument": o.instrument.conId} for o in broker.orders.values()],
        "executions": [
            {**asdict(e), "instrument": e.instrument.conId, "time": e.time.isoformat()}
            for e in broker.executions
        ],
    }


def save(path: Path, state: State, broker: Broker) -> None:
    data = {
        "cash": state.cash,
        "positions": [asdict(p) for p in state.positions],
        "next_order_id": state.next_order_id,
        **broker_json(broker),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".simulator-")
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    os.replace(tmp, path)  # atomic: a crash never leaves half a file


def load(path: Path, state: State, broker: Broker) -> bool:
    """Restore what `save` wrote; False when there is nothing to restore."""
    if not path.exists():
        return False
    data = json.loads(path.read_text())
    state.cash = data["cash"]
    state.positions = [Position(**p) for p in data["positions"]]
    state.next_order_id = data["next_order_id"]
    for raw in data["orders"]:
        raw["instrument"] = state.instrument(raw["instrument"])
        raw["algoParams"] = [tuple(p) for p in raw["algoParams"]]
        order = Order(**raw)
        broker.orders[(order.clientId, order.orderId)] = order
    for raw in data["executions"]:
        raw["instrument"] = state.instrument(raw["instrument"])
        raw["time"] = datetime.fromisoformat(raw["time"])
        broker.executions.append(Execution(**raw))
    broker.resume(
        max((o.permId for o in broker.orders.values()), default=1_000_000), len(broker.executions)
    )
    return True
