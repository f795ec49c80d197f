"""Any plausible US symbol and listed forex pair: made up from the symbol alone, IB's errors for
the rest."""

from __future__ import annotations

import ib_async as ib_
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import Simulator
from simulator.catalogue import RefusedContract, by_con_id, find, find_one, forex, stock
from simulator.state import State

SYMBOLS = st.from_regex(r"[A-Z]{1,5}(\.[A-Z])?", fullmatch=True)


@given(SYMBOLS)
def test_a_symbols_con_id_encodes_it(symbol: str) -> None:
    made = stock(symbol)
    assert made is not None
    back = by_con_id(made.conId)
    assert back is not None and back.symbol == made.symbol and back.price == made.price
    assert 10 <= made.price <= 500 and made.primaryExchange in ("NASDAQ", "NYSE", "ARCA")


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_any_con_id_decodes_to_nothing_or_to_its_own_symbol(con_id: int) -> None:
    made = by_con_id(con_id)
    assert made is None or made.conId == con_id


@given(st.text(max_size=12))
def test_an_implausible_symbol_is_no_security_not_a_crash(symbol: str) -> None:
    want = {"symbol": symbol, "secType": "STK", "exchange": "SMART", "currency": "USD"}
    try:
        found = find(State(), want)
    except RefusedContract as exc:
        assert exc.code in (200, 321)
    else:
        assert len(found) == 1 and found[0].conId > 0


def test_forex_pairs_are_listed_one_way_round() -> None:
    eur_jpy = forex("EUR", "JPY")
    assert eur_jpy is not None and eur_jpy.localSymbol == "EUR.JPY"
    assert forex("JPY", "EUR") is None and forex("XXX", "USD") is None
    assert by_con_id(eur_jpy.conId) == eur_jpy


@pytest.mark.parametrize(
    ("want", "code"),
    [
        ({"symbol": "AAPL", "secType": "STK", "exchange": "SMART", "currency": "EUR"}, 200),
        ({"symbol": "VTI", "secType": "STK", "exchange": "LSE", "currency": "USD"}, 200),
        ({"symbol": "vti1", "secType": "STK", "exchange": "SMART", "currency": "USD"}, 200),
        ({"symbol": "USD", "secType": "CASH", "exchange": "IDEALPRO", "currency": "EUR"}, 200),
        ({"symbol": "ZZ", "secType": "FUT", "exchange": "CME", "currency": "USD"}, 200),
        ({"symbol": "VTI", "secType": "", "exchange": "SMART", "currency": "USD"}, 321),
        ({"symbol": "VTI", "secType": "XYZ", "exchange": "SMART", "currency": "USD"}, 321),
        ({"symbol": "", "secType": "STK", "exchange": "SMART", "currency": "USD"}, 321),
        ({"symbol": "XXX", "secType": "STK", "exchange": "", "currency": ""}, 321),
    ],
)
def test_ib_error_codes_for_what_cannot_be_traded(want: dict[str, str], code: int) -> None:
    with pytest.raises(RefusedContract) as refused:
        find(State(), want)
    assert refused.value.code == code


def test_known_instruments_win_over_made_up_ones() -> None:
    state = State()
    spy = find(state, {"symbol": "SPY", "secType": "STK", "exchange": "ARCA", "currency": "USD"})
    assert [i.conId for i in spy] == [756733]
    assert len(state.instruments) == len(State().instruments)


def _qualified(seed: int, symbols: tuple[str, ...]) -> list[tuple[int, str, str, float]]:
    with Simulator(port=0, seed=seed) as sim:
        ib = ib_.IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        try:
            contracts = ib.qualifyContracts(*(ib_.Stock(s, "SMART", "USD") for s in symbols))
            details = [ib.reqContractDetails(ib_.Contract(conId=c.conId))[0] for c in contracts]
            return [
                (d.contract.conId, d.contract.primaryExchange, d.contract.currency, d.minTick)
                for d in details
            ]
        finally:
            ib.disconnect()


def test_users_own_symbols_are_the_same_across_restarts_and_seeds() -> None:
    symbols = ("VTI", "IEF", "GLD", "MSFT", "AMZN")
    first = _qualified(1, symbols)
    assert first == _qualified(99, symbols)
    assert len({c for c, *_ in first}) == len(symbols)
    assert all(currency == "USD" for _, _, currency, _ in first)


def test_a_made_up_stock_trades_and_its_price_walks(connect) -> None:
    ib = connect()
    vti = ib.qualifyContracts(ib_.Stock("VTI", "SMART", "USD"))[0]
    first = ib.reqTickers(vti)[0].last
    second = ib.reqTickers(vti)[0].last
    assert first > 0 and second > 0 and first != second
    trade = ib.placeOrder(vti, ib_.MarketOrder("BUY", 7))
    while not trade.isDone():
        ib.waitOnUpdate(timeout=5)
    assert trade.orderStatus.status == "Filled"
    # Asked afresh (positionEnd ends the answer): the pushed update may still be on its way.
    assert {p.contract.symbol: p.position for p in ib.reqPositions()}["VTI"] == 7
    history = ib.reqHistoricalData(vti, "", "1 W", "1 day", "TRADES", True)
    assert len(history) == 5


def test_a_state_file_pins_a_symbols_values(tmp_path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(
        "instruments:\n  - {conId: 4242, symbol: VTI, primaryExchange: ARCA, price: 290}\n"
    )
    with Simulator(port=0, state=path) as sim:
        ib = ib_.IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        try:
            vti = ib.qualifyContracts(ib_.Stock("VTI", "SMART", "USD"))[0]
            assert (vti.conId, vti.primaryExchange) == (4242, "ARCA")
            assert 280 < ib.reqTickers(vti)[0].marketPrice() < 300
        finally:
            ib.disconnect()


def test_a_made_up_position_is_valued_after_a_restart(tmp_path) -> None:
    saved = tmp_path / "broker.json"
    with Simulator(port=0, persist=saved) as sim:
        ib = ib_.IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        try:
            gld = ib.qualifyContracts(ib_.Stock("GLD", "SMART", "USD"))[0]
            trade = ib.placeOrder(gld, ib_.MarketOrder("BUY", 3))
            while not trade.isDone():
                ib.waitOnUpdate(timeout=5)
        finally:
            ib.disconnect()
    with Simulator(port=0, persist=saved, seed=42) as sim:  # a fresh process knows no GLD yet
        ib = ib_.IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        try:
            held = {p.contract.symbol: p for p in ib.portfolio()}
            assert held["GLD"].position == 3 and held["GLD"].contract.conId == gld.conId
            assert held["GLD"].marketValue > 0
            assert ib.reqExecutions()[0].contract.symbol == "GLD"
        finally:
            ib.disconnect()


def test_an_order_or_a_bars_request_names_exactly_one_instrument() -> None:
    state = State()
    spy = find_one(state, {"symbol": "SPY", "secType": "STK", "exchange": "SMART"})
    assert spy.symbol == "SPY"
    for want in (
        {"symbol": "ES", "secType": "FUT", "exchange": "CME", "currency": "USD"},  # two expiries
        {"symbol": "VTI", "secType": "STK", "exchange": "LSE", "currency": "USD"},  # none
    ):
        with pytest.raises(RefusedContract) as refused:
            find_one(state, want)
        assert refused.value.code == 200
