"""What allocation, close-all and trade-reconciliation report of IB's positions: rows with
symbols, the time, and each instrument's key in a result."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from worker.trading import observed

SPY, TLT = 756733, 15547841


def position(con_id: int, quantity: float, symbol: str = "", local: str = "") -> SimpleNamespace:
    contract = SimpleNamespace(conId=con_id, symbol=symbol, localSymbol=local)
    return SimpleNamespace(contract=contract, position=quantity)


def test_positions_become_rows_with_symbols_and_the_time():
    class IB:
        def reqPositions(self):
            return [position(TLT, 5, "TLT"), position(SPY, 4, "SPY"), position(SPY, 6, "SPY")]

    seen = observed.read(IB())
    assert seen.held == {SPY: 10.0, TLT: 5.0}
    report = seen.report()
    assert report["ibPositions"] == [
        {"symbol": "SPY", "conId": SPY, "position": 10.0},
        {"symbol": "TLT", "conId": TLT, "position": 5.0},
    ]
    assert datetime.fromisoformat(report["ibPositionsAt"]).tzinfo is not None
    assert report["ibPositionsSource"] == "reqPositions"


def test_the_local_symbol_names_a_future_and_a_nameless_one_says_conid():
    held, rows = observed.rows([position(1, 1, "ES", "ESZ6"), position(2, 3)])
    assert held == {1: 1.0, 2: 3.0}
    assert [r["symbol"] for r in rows] == ["ESZ6", "conId 2"]


@given(st.dictionaries(st.integers(1, 40), st.sampled_from(["SPY", "TLT", "", "conId 9"])))
def test_every_conid_gets_one_distinct_key(names):
    ids = [*names, 99]
    keys = observed.labels(ids, names)
    assert set(keys) == set(ids)
    assert len(set(keys.values())) == len(keys)  # a result keyed by them loses nothing
    for con_id, key in keys.items():
        symbol = names.get(con_id, "")
        if symbol and not symbol.startswith("conId "):
            assert key.startswith(symbol)
        else:
            assert key == f"conId {con_id}"


def test_only_unnamed_conids_are_asked_for():
    asked = []

    class IB:
        def qualifyContracts(self, *contracts):
            asked.extend(c.conId for c in contracts)
            return [SimpleNamespace(conId=c.conId, symbol="TLT", localSymbol="") for c in contracts]

    assert observed.named(IB(), [SPY, TLT], {SPY: "SPY"}) == {SPY: "SPY", TLT: "TLT"}
    assert asked == [TLT]
    assert observed.named(IB(), [SPY], {SPY: "SPY"}) == {SPY: "SPY"} and asked == [TLT]
