"""A simulator each test owns (its broker state outlives the worker's gateway sessions), a
worker pipeline connected to it, and clean strategy holdings."""

from __future__ import annotations

import pytest

from simulator import Simulator
from simulator.state import load
from tests.support import pipeline

SPY, TLT = 756733, 15547841


@pytest.fixture
def sim():
    with Simulator(port=0, seed=3) as running:
        yield running


@pytest.fixture
def flat_sim():
    state = load(None)
    state.positions = []
    with Simulator(port=0, seed=3, state=state) as running:
        yield running


@pytest.fixture
def positions_root(db):
    root = db.collection("positions").document("paper")
    yield root
    for name in ("holdings", "openOrders", "booked"):
        for doc in root.collection(name).list_documents():
            doc.delete()


@pytest.fixture
def make_worker(stack):
    made = []

    def build(sim, **env: str):
        worker = pipeline(stack, GATEWAY_MODE="external", IB_GATEWAY_PORT=str(sim.port), **env)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.session.close()
