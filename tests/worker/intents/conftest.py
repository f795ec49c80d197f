"""A simulator each test owns (its broker state outlives the worker's gateway sessions), a
worker pipeline connected to it, clean strategy holdings, and the trading config the test trades
with (its own, whatever config.yaml holds: a new strategy or instrument there changes nothing
here)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulator import Simulator
from simulator.state import load
from tests.support import pipeline

SPY, TLT = 756733, 15547841

TEST_CONFIG: dict[str, Any] = {
    "adaptivePriority": "Normal",
    "instruments": {
        key: {"symbol": key, "secType": "STK", "exchange": "SMART", "currency": "USD"}
        for key in ("SPY", "TLT", "QQQ", "AAPL")
    },
    "exposure": {"overall": 0.5, "strategies": {"static-weights": 1.0}},
    "strategies": {"static-weights": {"weights": {"SPY": 0.6, "TLT": 0.4}}},
    "cashBalanceThresholdInBaseCurrency": 5000,
    "riskLimits": {
        "maxNotionalPerOrder": 100_000,
        "maxNotionalPerIntent": 250_000,
        "maxOrdersPerIntent": 20,
        "allowedInstruments": ["SPY", "TLT", "QQQ", "AAPL", "EUR", "GBP", "USD"],
    },
    "marketData": {"instruments": ["SPY", "TLT"], "duration": "1 M"},
}


class TradingConfig:
    """The test's `config/common` (TEST_CONFIG), `config/paper` and `config/live` (empty)."""

    def __init__(self, db: Any) -> None:
        self.docs = db.collection("config")
        self.replace(copy.deepcopy(TEST_CONFIG), {})

    def replace(self, common: dict[str, Any], paper: dict[str, Any] | None = None) -> None:
        self.docs.document("common").set(common)
        self.docs.document("paper").set(paper or {})
        self.docs.document("live").set({})

    def change(self, changes: dict[str, Any]) -> None:
        """Override keys (dotted paths) for paper, the way config/paper overrides common."""
        paper = self.docs.document("paper").get().to_dict() or {}
        for path, value in changes.items():
            *parents, last = path.split(".")
            node = paper
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        self.docs.document("paper").set(paper)


@pytest.fixture
def trading_config(db):
    """The test's own trading config; the seeded documents come back afterwards."""
    docs = db.collection("config")
    saved = {ref.id: ref.get().to_dict() for ref in docs.list_documents()}
    yield TradingConfig(db)
    for ref in docs.list_documents():
        ref.delete()
    for name, data in saved.items():
        docs.document(name).set(data or {})


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
def make_worker(stack, trading_config):
    made = []

    def build(sim, **env: str):
        worker = pipeline(stack, GATEWAY_MODE="external", IB_GATEWAY_PORT=str(sim.port), **env)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.session.close()
