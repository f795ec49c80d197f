"""The control port's /trade: a position changed at the broker behind the API clients' back (as
a trade in TWS), which the clients learn from position and account updates."""

from __future__ import annotations

import pytest

SPY = 756733


def held(ib) -> float:
    return {p.contract.conId: p.position for p in ib.portfolio()}.get(SPY, 0.0)


def test_a_trade_outside_the_api_changes_the_position_every_client_sees(connect, sim):
    ib = connect()
    before = {p.contract.conId: p.position for p in ib.reqPositions()}.get(SPY, 0.0)
    answer = sim.call("POST", "/trade", {"conId": SPY, "quantity": 16})
    assert (answer["status"], answer["filled"]) == ("Filled", 16.0)
    for _ in range(100):  # until the pushed updates arrived
        if held(ib) == before + 16:
            break
        ib.sleep(0.05)
    assert held(ib) == before + 16
    assert {p.contract.conId: p.position for p in ib.reqPositions()}[SPY] == before + 16
    sim.call("POST", "/trade", {"conId": SPY, "quantity": -6})
    assert {p.contract.conId: p.position for p in ib.reqPositions()}[SPY] == before + 10
    outside = [f for f in ib.reqExecutions() if f.contract.conId == SPY]
    assert [(f.execution.shares, f.execution.orderRef) for f in outside] == [(16, ""), (6, "")]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"conId": SPY},
        {"conId": SPY, "quantity": 0},
        {"conId": "SPY", "quantity": 1},
        {"conId": True, "quantity": 1},
        {"conId": SPY, "quantity": float("nan")},
    ],
)
def test_a_bad_trade_is_refused_and_changes_nothing(sim, body):
    before = sim.call("GET", "/state")["positions"]
    assert "expected" in sim.call("POST", "/trade", body)["error"]
    assert sim.call("GET", "/state")["positions"] == before


def test_an_unknown_instrument_is_named(sim):
    assert (
        "no instrument with conId 1"
        in sim.call("POST", "/trade", {"conId": 1, "quantity": 1})["error"]
    )
