"""Connecting to a running gateway (the simulator): client ids in use, IB's status messages."""

from __future__ import annotations

import logging

import ib_async
import pytest

from deploy.processes import free_port
from simulator import Simulator
from tests.support import delivery, pipeline, unique
from worker.exceptions import GatewayError
from worker.gateway.connect import ErrorLog, _PollingNoise, connect, ensure_connected
from worker.gateway.launchers import SimulatorLauncher
from worker.settings import Settings


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


def test_a_booting_gateway_gives_one_waiting_line_and_one_ready_line(caplog):
    settings = Settings.from_env(
        {"IB_GATEWAY_PORT": str(free_port()), "SIMULATOR_BOOT_DELAY": "1.5"}
    )
    launcher = SimulatorLauncher(settings)
    with caplog.at_level(logging.DEBUG):
        launcher.start()
        try:
            connect(launcher, client_id=1, timeout=20, poll=0.1).disconnect()
        finally:
            launcher.stop()
    messages = [r.getMessage() for r in caplog.records]
    where = f"the simulator gateway at 127.0.0.1:{settings.gateway_port}"
    assert [m for m in messages if m.startswith("waiting for")] == [
        f"waiting for {where} to accept API connections"
    ]
    ready = [m for m in messages if "is ready after" in m]
    assert len(ready) == 1 and ready[0].startswith(where) and "(accounts DU1234567)" in ready[0]
    assert not [m for m in messages if "API connection failed" in m or "Make sure API" in m]
    # The filter is gone with the polling: ib_async's own errors reach the log again.
    client = logging.getLogger("ib_async.client")
    with caplog.at_level(logging.ERROR, logger="ib_async.client"):
        client.error("API connection failed: ConnectionRefusedError()")
    assert "API connection failed" in caplog.text


def test_only_the_polling_noise_is_dropped():
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("ib_async.client", logging.ERROR, __file__, 1, message, (), None)

    noise = _PollingNoise()
    assert not noise.filter(record("API connection failed: ConnectionRefusedError(111)"))
    assert not noise.filter(record("Make sure API port on TWS/IBG is open"))
    assert noise.filter(record("Peer closed connection."))
    assert noise.filter(record("Error 502, reqId -1: Couldn't connect to TWS."))


def test_an_error_log_for_one_request_ignores_the_others():
    mine = ErrorLog(req_id=51)
    mine(50, 201, "Order rejected - reason: the leg before")  # another order's late refusal
    mine(51, 202, "Order cancelled")
    mine(-1, 2104, "Market data farm connection is OK")  # informational: set aside
    assert mine.seen == [(202, "Order cancelled")]
    every = ErrorLog()
    every(50, 201, "rejected")
    every(-1, 1100, "connectivity lost")
    assert every.codes() == {201, 1100}
