"""trade-reconciliation: positions read for the run, each fill once in a batch's trail (with a
fake gateway and holdings, no stack), and the warm-session sequence against the simulator."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.support import delivery, unique
from tests.worker.intents.conftest import SPY, TLT
from worker import intent_registry
from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext
from worker.intents import trade_reconciliation as module
from worker.settings import Settings

REF = "b1#s1:alloc:SPY"
SYMBOLS = {SPY: "SPY", TLT: "TLT"}


class FakeHoldings:
    """One order of the batch's first step waiting in openOrders; booking moves it."""

    def __init__(self, db: Any, mode: str) -> None:
        self.booked: list[str] = []

    def open_orders(self) -> dict[str, dict[str, Any]]:
        return {
            REF: {
                "orderRef": REF,
                "conId": SPY,
                "quantity": 10,
                "sources": {"static-weights": 10},
                "permId": 7,
                "intentId": "b1",
            }
        }

    def apply(self, bookings: list[Any]) -> list[str]:
        self.booked = [b.order_ref for b in bookings]
        return self.booked

    def all(self) -> dict[str, dict[int, float]]:
        return {"static-weights": {SPY: 10.0}} if self.booked else {}

    def drop_open_order(self, order_ref: str) -> None:
        raise AssertionError("nothing here is old enough to be closed")


class FakeIB:
    """The gateway after the order filled: its execution, and positions asked for now that
    differ from what a stale cached portfolio would say."""

    def __init__(self, positions: list[tuple[int, float]]) -> None:
        self.positions = positions

    def reqExecutions(self, _filter: Any) -> list[Any]:
        return [SimpleNamespace(execution=SimpleNamespace(permId=7, orderRef=REF, shares=10))]

    def reqAllOpenOrders(self) -> list[Any]:
        return []

    def reqCompletedOrders(self, apiOnly: bool) -> list[Any]:
        return []

    def reqPositions(self) -> list[Any]:
        return [
            SimpleNamespace(contract=SimpleNamespace(conId=c, symbol=SYMBOLS[c]), position=q)
            for c, q in self.positions
        ]

    def portfolio(self) -> list[Any]:
        raise AssertionError("the cached portfolio is not what reconciliation trusts")


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setattr(module, "Holdings", FakeHoldings)
    monkeypatch.setattr(module.trading_config, "load", lambda db, mode: {})


def context(ib: FakeIB, trail: list[tuple[str, str]], **fields: Any) -> IntentContext:
    record = fields.pop("record_id", "b1")
    return IntentContext(
        id=fields.pop("id", record),
        intent="batch",
        trading_mode="paper",
        settings=Settings.from_env({}),
        attempt=1,
        audit=lambda kind, detail: trail.append((record, kind)),
        audit_intent=lambda owner, kind, detail: trail.append((owner, kind)),
        record_id=record,
        open_gateway=lambda: ib,
        **fields,
    )


def test_a_batch_that_reconciles_its_own_earlier_order_records_each_fill_once(fakes):
    trail: list[tuple[str, str]] = []
    ib = FakeIB([(SPY, 10)])
    spec = intent_registry.get("batch")
    assert spec is not None
    out = spec.run(context(ib, trail), {"steps": [{"intent": "trade-reconciliation"}]})
    assert out["steps"][0]["result"]["reconciled"] == [REF]
    assert trail.count(("b1", "fill")) == 1


def test_an_order_of_another_intent_gets_its_fill_in_both_trails(fakes):
    trail: list[tuple[str, str]] = []
    module.trade_reconciliation(context(FakeIB([(SPY, 10)]), trail, record_id="recon-1"), {})
    assert sorted(trail) == [("b1", "fill"), ("recon-1", "fill")]


def test_positions_are_asked_for_now_and_a_closed_one_is_no_holding(fakes):
    # reqPositions lists a position closed today with 0; an account of two adds up.
    ib = FakeIB([(SPY, 4), (SPY, 6), (TLT, 0)])
    result = module.trade_reconciliation(context(ib, [], record_id="recon-2"), {})
    assert (result["ib"], result["ibSource"]) == ({"SPY": 10.0}, "reqPositions")
    assert result["conIds"] == {"SPY": SPY}  # symbols in the result, the conIds beside them


def test_a_mismatch_names_the_source_it_compared_with(fakes):
    ib = FakeIB([(SPY, 10), (TLT, 5)])
    with pytest.raises(IntentFailed) as failed:
        module.trade_reconciliation(context(ib, [], record_id="recon-3"), {})
    assert failed.value.code == "reconciliation-mismatch"
    assert f"(reqPositions: TLT (conId {TLT}): holdings 0 vs IB 5)" in str(failed.value)
    assert failed.value.result["ibSource"] == "reqPositions"
    # What it saw, with symbols and the time, for the holdings views.
    seen = failed.value.result["ibPositions"]
    assert seen == [
        {"symbol": "SPY", "conId": SPY, "position": 10.0},
        {"symbol": "TLT", "conId": TLT, "position": 5.0},
    ]
    assert failed.value.result["ibPositionsAt"]


def run(worker, name: str, intent_id: str) -> dict[str, Any]:
    worker.handle(delivery({"intent": name, "id": intent_id}))
    return intent_id


def test_allocation_reconciliation_close_all_reconciliation_on_one_warm_session(
    make_worker, flat_sim, positions_root, results
):
    """The false mismatch of a warm session after close-all: the last reconciliation saw the
    closed positions in the cached portfolio. Now IB says 0 and the run asks IB afresh."""
    worker = make_worker(flat_sim, GATEWAY_KEEPALIVE_SECONDS="300")
    found = []
    for name in ("allocation", "trade-reconciliation", "close-all", "trade-reconciliation"):
        intent_id = run(worker, name, unique(name[:5]))
        result = results.for_id(intent_id)
        assert result["status"] == "succeeded", (name, result["error"])
        found.append(result)
    assert [r["timings"]["gatewayReused"] for r in found[1:]] == [True, True, True]
    first, last = found[1]["result"], found[3]["result"]
    assert first["ib"] == first["holdings"] and set(first["ib"]) == {"SPY", "TLT"}
    assert first["conIds"] == {"SPY": SPY, "TLT": TLT}
    assert flat_sim.state.positions == []
    assert (last["holdings"], last["ib"], last["ibSource"]) == ({}, {}, "reqPositions")
