"""Each fault, observed the way a client sees it."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
import urllib.request

import ib_async as ib_
import pytest

from deploy.processes import free_port
from simulator import Simulator
from simulator.state import load


def spy(ib):
    return ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]


def errors_of(ib) -> list[int]:
    seen: list[int] = []
    ib.errorEvent += lambda req, code, msg, contract: seen.append(code)
    return seen


def test_boot_delay_keeps_the_port_closed():
    sim = Simulator(port=free_port(), boot_delay=1.0)
    sim.start(wait=False)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
        time.sleep(1.3)
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
    finally:
        sim.stop()


def test_hung_handshake_times_the_client_out(sim):
    sim.call("POST", "/faults", {"hang_handshake": 3})
    ib = ib_.IB()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        ib.connect("127.0.0.1", sim.port, clientId=5, timeout=1)
    assert time.monotonic() - t0 < 2.5


def test_drop_now_and_on_next_order(connect, sim):
    ib = connect()
    sim.call("POST", "/drop", {})
    with contextlib.suppress(ConnectionError):  # ib_async raises it from a running wait
        ib.sleep(0.3)
    assert not ib.isConnected()
    ib = connect()
    sim.call("POST", "/faults", {"drop_on_next_order": True})
    ib.placeOrder(spy(ib), ib_.MarketOrder("BUY", 1))
    with contextlib.suppress(ConnectionError):
        ib.sleep(0.3)
    assert not ib.isConnected()
    assert sim.api.broker.orders == {}


def test_reject_next_order_with_a_reason(connect, sim):
    ib = connect()
    seen = errors_of(ib)
    sim.call("POST", "/faults", {"reject_next_order": "insufficient margin"})
    trade = ib.placeOrder(spy(ib), ib_.MarketOrder("BUY", 1))
    ib.sleep(0.3)
    assert 201 in seen and trade.orderStatus.status == "Cancelled"
    assert "insufficient margin" in trade.log[-1].message
    again = ib.placeOrder(spy(ib), ib_.MarketOrder("BUY", 1))  # one shot
    ib.sleep(0.3)
    assert again.orderStatus.status == "Filled"


def test_read_only_api(connect, sim):
    ib = connect()
    seen = errors_of(ib)
    sim.call("POST", "/faults", {"read_only": True})
    ib.placeOrder(spy(ib), ib_.MarketOrder("BUY", 1))
    ib.sleep(0.3)
    assert 321 in seen and sim.api.broker.orders == {}


def test_connectivity_lost_and_restored(connect, sim):
    ib = connect()
    seen = errors_of(ib)
    sim.call("POST", "/connectivity", {"lost": True})
    sim.call("POST", "/connectivity", {"restored": True})
    sim.call("POST", "/connectivity", {"lost": True})
    sim.call("POST", "/connectivity", {"restored": True, "data_lost": True})
    ib.sleep(0.3)
    assert seen == [1100, 1102, 1100, 1101]


def test_any_error_can_be_sent_and_a_bad_one_is_refused(connect, sim):
    ib = connect()
    seen = errors_of(ib)
    assert sim.call("POST", "/error", {"code": 2103, "message": "farm broken"}) == {"sent": 2103}
    ib.sleep(0.3)
    assert seen == [2103]
    assert "expected" in sim.call("POST", "/error", {"code": "x"})["error"]


def test_competing_session_and_pacing(connect, sim):
    sim.call("POST", "/faults", {"competing_session": True, "pacing_violation": True})
    ib = ib_.IB()
    seen = errors_of(ib)
    ib.connect("127.0.0.1", sim.port, clientId=9, timeout=5)
    try:
        ib.sleep(0.2)
        assert 10197 in seen
        assert list(ib.reqHistoricalData(spy(ib), "", "5 D", "1 day", "TRADES", True)) == []
        assert 162 in seen
    finally:
        ib.disconnect()


def test_response_delay(connect, sim):
    ib = connect()
    sim.call("POST", "/faults", {"response_delay": 0.4})
    t0 = time.monotonic()
    ib.reqCurrentTime()
    assert time.monotonic() - t0 >= 0.4


def test_control_interface_over_http(sim):
    base = f"http://127.0.0.1:{sim.control_port}"
    with urllib.request.urlopen(f"{base}/state", timeout=5) as response:
        state = json.loads(response.read())
    assert state["account"] == "DU1234567" and state["cash"]["USD"] == 100_000
    request = urllib.request.Request(f"{base}/faults", data=b'{"no_such_fault": 1}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    for wrong in ({"read_only": "false"}, {"hang_handshake": "x"}, {"drop_on_request": 1.5}):
        assert "wrong type" in sim.call("POST", "/faults", wrong)["error"]
    for fraction in (0, 1.5, -0.5):
        answer = sim.call("POST", "/faults", {"partial_fill": fraction})
        assert "partial_fill must be between 0 and 1" in answer["error"]
    assert sim.call("GET", "/state")["faults"]["read_only"] is False


@pytest.mark.parametrize(
    ("faults", "words"),
    [
        ("{read_only: 'yes'}", "wrong type for read_only"),
        ("{no_such_fault: 1}", "unknown faults ['no_such_fault']"),
        ("{partial_fill: 2}", "partial_fill must be between 0 and 1"),
        ("[read_only]", "expected a mapping"),
    ],
)
def test_bad_faults_in_a_state_file_are_named(tmp_path, faults, words):
    path = tmp_path / "state.yaml"
    path.write_text(f"faults: {faults}\n")
    with pytest.raises(ValueError, match=re.escape(words)):
        load(path)


def test_faults_from_a_state_file(tmp_path):
    path = tmp_path / "state.yaml"
    path.write_text("account: DU7654321\ncash: {USD: 5000}\nfaults: {read_only: true}\n")
    with Simulator(port=0, state=path) as sim:
        assert sim.state.account == "DU7654321" and sim.state.faults.read_only
        assert sim.state.cash == {"USD": 5000.0}


def test_a_stalled_gateway_answers_nothing_until_dropped_then_frees_its_client_id(connect, sim):
    ib = connect(client_id=61)
    contract = spy(ib)
    sim.call("POST", "/faults", {"stall_after_orders": 1})
    first = ib.placeOrder(contract, ib_.MarketOrder("BUY", 1, orderRef="s:1"))
    ib.sleep(0.3)
    assert first.orderStatus.status == "Filled"
    second = ib.placeOrder(contract, ib_.MarketOrder("BUY", 2, orderRef="s:2"))
    ib.sleep(0.5)
    assert second.orderStatus.status == "PendingSubmit"  # never acknowledged
    sim.call("POST", "/faults/reset", {})
    sim.call("POST", "/drop", {})
    with contextlib.suppress(ConnectionError):
        ib.sleep(0.3)
    again = connect(client_id=61)  # the hung connection does not hold the id
    assert [o.orderRef for o in sim.api.broker.orders.values()] == ["s:1"]
    assert again.isConnected()


def test_frozen_prices_stand_still(connect, sim):
    ib = connect()
    contract = spy(ib)
    sim.call("POST", "/faults", {"freeze_prices": True})
    quotes = {ib.reqTickers(contract)[0].marketPrice() for _ in range(3)}
    assert len(quotes) == 1
    sim.call("POST", "/faults", {"freeze_prices": False})
    assert len({ib.reqTickers(contract)[0].marketPrice() for _ in range(3)}) > 1


def test_no_market_data_refuses_live_data_of_those_symbols_only(connect, sim):
    ib = connect()
    seen = errors_of(ib)
    tlt = ib.qualifyContracts(ib_.Stock("TLT", "SMART", "USD"))[0]
    assert sim.call("POST", "/faults", {"no_market_data": ["TLT"]})["faults"]["no_market_data"] == [
        "TLT"
    ]
    spy_ticker, tlt_ticker = ib.reqTickers(spy(ib), tlt)
    assert spy_ticker.marketPrice() > 0
    assert tlt_ticker.marketPrice() != tlt_ticker.marketPrice()  # NaN: no live price
    assert 354 in seen
    seen.clear()
    ib.reqMarketDataType(3)  # delayed data is still there, as delayed ticks
    kinds: set[int] = set()
    ib.pendingTickersEvent += lambda tickers: kinds.update(
        t.tickType for ticker in tickers for t in ticker.ticks
    )
    delayed = ib.reqTickers(tlt)[0]
    assert kinds >= {66, 67, 68}
    assert not kinds & {1, 2, 4}
    assert delayed.marketPrice() > 0
    assert delayed.marketDataType == 3
    assert min(delayed.bid, delayed.ask, delayed.last) > 0  # from ticks 66, 67 and 68
    assert seen == []


@pytest.mark.parametrize("value", ["TLT", [1], [""], {"TLT": True}])
def test_no_market_data_must_be_a_list_of_symbols(sim, value):
    answer = sim.call("POST", "/faults", {"no_market_data": value})
    assert "no_market_data" in answer["error"]
    assert sim.state.faults.no_market_data == []
