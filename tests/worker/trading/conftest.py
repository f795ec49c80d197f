"""Fixtures shared by the trading tests that talk to a simulator."""

from __future__ import annotations

from collections.abc import Iterator

import ib_async
import pytest

from simulator import Simulator


@pytest.fixture
def ib() -> Iterator[ib_async.IB]:
    """An ib_async client connected to a simulator of its own (`ib.sim`), disconnected and the
    simulator stopped afterwards."""
    with Simulator(port=0, seed=5) as sim:
        client = ib_async.IB()
        client.RequestTimeout = 10
        client.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        client.sim = sim
        try:
            yield client
        finally:
            client.disconnect()
