"""Connecting to a running gateway (the simulator): client ids in use, IB's status messages."""

from __future__ import annotations

import logging

import ib_async
import pytest

from simulator import Simulator
from tests.support import delivery, pipeline, unique
from worker.exceptions import GatewayError
from worker.gateway.connect import ensure_connected


@pytest.fixture
def sim():
    with Simulator(port=0, seed=5) as running:
        yield running


@pytest.fixture
def worker(stack, sim):
    built = pipeline(stack, GATEWAY_MODE="external", IB_GATEWAY_PORT=str(sim.port))
    yield built
    built.session.close()


def test_client_id_in_use_moves_to_the_next_one(worker, sim, results, caplog):
    other = ib_async.IB()
    other.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
    try:
        intent_id = unique("cid")
        with caplog.at_level(logging.INFO, logger="worker.gateway"):
            worker.handle(delivery({"intent": "summary", "id": intent_id}))
        result = results.for_id(intent_id)
        assert result["status"] == "succeeded", result["error"]
        assert "client id 1 is in use; trying 2" in caplog.text
    finally:
        other.disconnect()


def test_farm_messages_are_information_and_1100_holds_orders_until_1102(worker, sim, caplog):
    with caplog.at_level(logging.INFO):
        ib = worker.session.open().ib  # the simulator says 2104, 2106 and 2158 after the login
        sim.call("POST", "/error", {"code": 2104, "message": "Market data farm is OK:eufarm"})
        ib.sleep(0.2)
    farms = [r for r in caplog.records if "farm" in r.getMessage()]
    assert any("IB 2104: Market data farm is OK:eufarm" in r.getMessage() for r in farms)
    assert {r.levelno for r in farms} == {logging.INFO}
    sim.call("POST", "/connectivity", {"lost": True})
    ib.sleep(0.2)
    with pytest.raises(GatewayError, match=r"connectivity lost \(1100\)") as lost:
        ensure_connected(ib)
    assert lost.value.retryable is True
    sim.call("POST", "/connectivity", {"restored": True})
    ib.sleep(0.2)
    ensure_connected(ib)  # 1102: orders may go out again
