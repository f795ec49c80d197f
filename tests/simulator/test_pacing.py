"""The simulator paces historical data as IB does, and its quotes carry the last trade's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ib_async as ib_

from simulator.pacing import VIOLATION, HistoryLog

END = "20261120 16:00:00 US/Eastern"


def codes_of(ib) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    ib.errorEvent += lambda req, code, msg, contract: seen.append((code, msg))
    return seen


def spy(ib):
    return ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]


def test_an_identical_request_within_15_seconds_is_a_violation(connect) -> None:
    ib = connect()
    seen = codes_of(ib)
    contract = spy(ib)
    assert len(ib.reqHistoricalData(contract, END, "2 W", "1 day", "TRADES", True)) == 10
    assert list(ib.reqHistoricalData(contract, END, "2 W", "1 day", "TRADES", True)) == []
    assert seen == [(162, VIOLATION)]
    assert len(ib.reqHistoricalData(contract, END, "3 W", "1 day", "TRADES", True)) == 15


def test_the_sixth_request_for_one_contract_within_2_seconds_is_a_violation(connect) -> None:
    ib = connect()
    seen = codes_of(ib)
    contract = spy(ib)
    for weeks in range(1, 6):
        assert ib.reqHistoricalData(contract, END, f"{weeks} W", "1 day", "TRADES", True)
    assert seen == []
    assert not ib.reqHistoricalData(contract, END, "6 W", "1 day", "TRADES", True)
    assert seen == [(162, VIOLATION)]
    tlt = ib.qualifyContracts(ib_.Stock("TLT", "SMART", "USD"))[0]
    assert ib.reqHistoricalData(tlt, END, "6 W", "1 day", "TRADES", True)  # another contract


def test_a_silent_violation_gets_no_answer_at_all(connect, sim) -> None:
    sim.call("POST", "/faults", {"pacing_silent": True})
    ib = connect()
    seen = codes_of(ib)
    contract = spy(ib)
    assert ib.reqHistoricalData(contract, END, "2 W", "1 day", "TRADES", True)
    again = ib.reqHistoricalData(contract, END, "2 W", "1 day", "TRADES", True, timeout=1)
    assert list(again) == [] and seen == []  # ib_async gave up after its timeout


def test_the_61st_request_in_ten_minutes_is_a_violation() -> None:
    now = [0.0]
    log = HistoryLog(clock=lambda: now[0])
    for n in range(60):
        assert log.answer(("S", str(n)), (str(n), "SMART", "TRADES"))
        now[0] += 9.0
    assert not log.answer(("S", "new"), ("new", "SMART", "TRADES"))
    now[0] = 600.0  # the first request is ten minutes old
    assert log.answer(("S", "new"), ("new", "SMART", "TRADES")) and log.violations == 1


def test_quotes_carry_the_last_trade_time_which_stands_while_halted(connect, sim) -> None:
    sim.call("POST", "/clock", {"now": "2026-12-07T15:00:00Z"})
    ib = connect()
    contract = spy(ib)
    (ticker,) = ib.reqTickers(contract)
    traded, quoted, price = ticker.lastTimestamp, ticker.hasBidAsk(), ticker.last
    assert abs(ticker.lastTimestamp - datetime(2026, 12, 7, 15, tzinfo=UTC)) < timedelta(minutes=1)
    sim.call("POST", "/faults", {"halted": ["SPY"]})
    sim.call("POST", "/clock", {"now": "2026-12-07T16:00:00Z"})
    (halted,) = ib.reqTickers(contract)
    assert halted.lastTimestamp == traded and halted.last == price
    assert quoted and not halted.hasBidAsk()  # a halted symbol has no quote
    ib.reqMarketDataType(3)
    sim.call("POST", "/faults/reset", {})
    (delayed,) = ib.reqTickers(contract)
    late = datetime(2026, 12, 7, 16, tzinfo=UTC) - delayed.delayedLastTimestamp
    assert timedelta(minutes=14) < late < timedelta(minutes=16)
