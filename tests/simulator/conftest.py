from __future__ import annotations

import itertools

import ib_async
import pytest

from simulator import Simulator

_client_ids = itertools.count(10)


@pytest.fixture
def sim():
    with Simulator(port=0, control_port=0, seed=7) as running:
        yield running


@pytest.fixture
def connect(sim):
    """Connect unmodified ib_async clients to the simulator; all are disconnected afterwards."""
    clients = []

    def make(client_id: int | None = None, **kw) -> ib_async.IB:
        ib = ib_async.IB()
        ib.RequestTimeout = 10
        ib.connect("127.0.0.1", sim.port, clientId=client_id or next(_client_ids), timeout=5, **kw)
        clients.append(ib)
        return ib

    yield make
    for ib in clients:
        ib.disconnect()
