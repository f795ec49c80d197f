"""Every supported request, through the real ib_async client over a socket."""

from __future__ import annotations

import contextlib

import ib_async as ib_
import pytest

from simulator.market import quarterly_expiries


def test_connect_syncs_account_positions_and_portfolio(connect):
    ib = connect()
    assert ib.managedAccounts() == ["DU1234567"]
    values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
    assert float(values[("NetLiquidation", "USD")]) > 100_000
    assert {("CashBalance", c) for c in ("USD", "EUR", "CHF")} <= set(values)
    assert ("ExchangeRate", "EUR") in values and ("MaintMarginReq", "USD") in values
    assert {p.contract.symbol: p.position for p in ib.positions()} == {"SPY": 100, "TLT": 50}
    spy = next(p for p in ib.portfolio() if p.contract.symbol == "SPY")
    assert spy.marketValue == spy.position * spy.marketPrice
    assert ib.reqCurrentTime().year >= 2025


def test_account_summary(connect):
    summary = {v.tag: v.value for v in connect().accountSummary()}
    assert float(summary["NetLiquidation"]) > 0 and "BuyingPower" in summary


def test_contract_details_by_symbol_local_symbol_and_con_id(connect):
    ib = connect()
    spy, eur, spx = ib.qualifyContracts(
        ib_.Stock("SPY", "SMART", "USD"), ib_.Forex("EURUSD"), ib_.Index("SPX", "CBOE")
    )
    assert (spy.conId, spy.primaryExchange) == (756733, "ARCA")
    assert (eur.secType, eur.localSymbol) == ("CASH", "EUR.USD")
    assert spx.secType == "IND"
    nearest = quarterly_expiries(__import__("datetime").date.today())[0]
    details = ib.reqContractDetails(ib_.Future("ES", exchange="GLOBEX"))  # alias of CME
    assert len(details) == 2 and all(d.contract.multiplier == "50" for d in details)
    es = ib.qualifyContracts(ib_.Future("ES", nearest.strftime("%Y%m"), "CME"))[0]
    assert es.lastTradeDateOrContractMonth == nearest.strftime("%Y%m%d")
    by_local = ib.qualifyContracts(ib_.Future(localSymbol=es.localSymbol, exchange="CME"))[0]
    assert by_local.conId == es.conId
    by_id = ib.reqContractDetails(ib_.Contract(conId=12087820))[0].contract
    assert by_id.localSymbol == "USD.CHF"
    mnq = ib.reqContractDetails(ib_.Future("MNQ", exchange="CME"))[0].contract
    assert mnq.multiplier == "2"
    assert ib.reqContractDetails(ib_.Stock("NOPE1", "SMART", "USD")) == []


def test_snapshot_and_streaming_market_data(connect):
    ib = connect()
    ib.reqMarketDataType(3)
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    ticker = ib.reqTickers(spy)[0]
    assert 0 < ticker.bid < ticker.ask and ticker.last > 0
    stream = ib.reqMktData(spy)
    ib.sleep(1.2)
    first = stream.bid
    ib.sleep(1.0)
    assert first > 0 and stream.bid != first  # the random walk moves
    ib.cancelMktData(spy)


def test_daily_bars_are_deterministic_per_seed(connect, sim):
    sim.call("POST", "/faults", {"pacing_limits": False})  # the same request twice, at once
    ib = connect()
    tlt = ib.qualifyContracts(ib_.Stock("TLT", "SMART", "USD"))[0]
    bars = ib.reqHistoricalData(tlt, "20261120 16:00:00", "2 W", "1 day", "TRADES", True)
    again = ib.reqHistoricalData(tlt, "20261120 16:00:00", "2 W", "1 day", "TRADES", True)
    assert len(bars) == 10 and list(bars) == list(again)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert bars[-1].date.isoformat() == "2026-11-20"


def test_order_lifecycle_with_order_ref_commission_and_positions(connect, sim):
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    order = ib_.MarketOrder("BUY", 10, orderRef="intent-1:0:0", tif="DAY")
    order.algoStrategy, order.algoParams = "Adaptive", [ib_.TagValue("adaptivePriority", "Normal")]
    order.goodAfterTime = "20261123 09:30:00 US/Eastern"
    trade = ib.placeOrder(spy, order)
    ib.sleep(0.3)
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.filled == 10
    assert trade.fills[0].execution.orderRef == "intent-1:0:0"
    assert trade.fills[0].commissionReport.commission == 1.0
    assert {p.contract.symbol: p.position for p in ib.positions()}["SPY"] == 110
    assert {p.contract.symbol: p.position for p in ib.portfolio()}["SPY"] == 110
    broker = sim.call("GET", "/state")
    assert broker["positions"][0]["quantity"] == 110
    placed = sim.api.broker.orders[(trade.order.clientId, trade.order.orderId)]
    assert (placed.goodAfterTime, placed.algoStrategy) == (order.goodAfterTime, "Adaptive")
    sell = ib.placeOrder(spy, ib_.MarketOrder("SELL", 110))
    ib.sleep(0.3)
    assert sell.fills[0].commissionReport.realizedPNL != 0
    assert "SPY" not in {p.contract.symbol for p in ib.positions() if p.position}


def test_resting_limit_order_is_listed_and_cancelled(connect):
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    trade = ib.placeOrder(spy, ib_.LimitOrder("BUY", 5, 1.0, orderRef="rest"))
    ib.sleep(0.3)
    assert trade.orderStatus.status == "Submitted"
    assert [t.order.orderRef for t in ib.reqOpenOrders()] == ["rest"]
    assert [t.order.orderRef for t in ib.reqAllOpenOrders()] == ["rest"]
    ib.cancelOrder(trade.order)
    ib.sleep(0.3)
    assert trade.orderStatus.status == "Cancelled"
    completed = {t.order.orderRef: t.orderStatus.status for t in ib.reqCompletedOrders(False)}
    assert completed == {"rest": "Cancelled"}


def test_marketable_limit_fills_and_fx_moves_cash(connect, sim):
    ib = connect()
    eur = ib.qualifyContracts(ib_.Forex("EURUSD"))[0]
    trade = ib.placeOrder(eur, ib_.LimitOrder("BUY", 1000, 2.0))
    ib.sleep(0.3)
    assert trade.orderStatus.status == "Filled"
    cash = sim.call("GET", "/state")["cash"]
    assert cash["EUR"] == 13_000 and cash["USD"] < 100_000 - 1000


def test_executions_with_a_filter(connect):
    ib = connect()
    spy, tlt = ib.qualifyContracts(
        ib_.Stock("SPY", "SMART", "USD"), ib_.Stock("TLT", "SMART", "USD")
    )
    ib.placeOrder(spy, ib_.MarketOrder("BUY", 1, orderRef="a"))
    ib.placeOrder(tlt, ib_.MarketOrder("SELL", 2, orderRef="b"))
    ib.sleep(0.3)
    assert {f.execution.orderRef for f in ib.reqExecutions()} == {"a", "b"}
    only = ib.reqExecutions(ib_.ExecutionFilter(symbol="TLT", side="SELL"))
    assert [f.execution.orderRef for f in only] == ["b"]


def test_two_clients_and_a_duplicate_client_id(connect, sim):
    first, second = connect(1), connect(2)
    assert first.isConnected() and second.isConnected()
    errors = []
    dup = ib_.IB()
    dup.errorEvent += lambda req, code, msg, contract: errors.append(code)
    with contextlib.suppress(TimeoutError, ConnectionError):
        dup.connect("127.0.0.1", sim.port, clientId=1, timeout=2)
    assert 326 in errors and not dup.isConnected()
    assert first.isConnected()
    # Order ids belong to a client: the same id from two clients is two orders.
    spy = first.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    a = first.placeOrder(spy, ib_.LimitOrder("BUY", 1, 1.0, orderRef="a", orderId=50))
    second.placeOrder(spy, ib_.LimitOrder("BUY", 2, 1.0, orderRef="b", orderId=50))
    first.sleep(0.3)
    assert sorted(t.order.orderRef for t in first.reqAllOpenOrders()) == ["a", "b"]
    first.cancelOrder(a.order)
    first.sleep(0.3)
    assert [t.order.orderRef for t in second.reqAllOpenOrders()] == ["b"]


def test_state_dump_lists_orders_and_executions(connect, sim):
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    ib.placeOrder(spy, ib_.MarketOrder("BUY", 3, orderRef="dumped"))
    ib.sleep(0.3)
    state = sim.call("GET", "/state")
    assert [(o["orderRef"], o["status"], o["instrument"]) for o in state["orders"]] == [
        ("dumped", "Filled", spy.conId)
    ]
    assert [(e["orderRef"], e["shares"]) for e in state["executions"]] == [("dumped", 3)]


def test_futures_add_their_pnl_to_the_account_not_their_notional(connect, sim):
    ib = connect()
    es = ib.reqContractDetails(ib_.Future("ES", exchange="CME"))[0].contract
    before = sim.state.net_liquidation()
    buy = ib.placeOrder(es, ib_.MarketOrder("BUY", 1))
    ib.sleep(0.3)
    assert buy.orderStatus.status == "Filled"
    notional = 50 * buy.fills[0].execution.price
    assert abs(sim.state.net_liquidation() - before) < notional / 50  # spread and commission
    cash = sim.state.cash["USD"]
    sell = ib.placeOrder(es, ib_.MarketOrder("SELL", 1))
    ib.sleep(0.3)
    realized = sell.fills[0].commissionReport.realizedPNL
    assert sim.state.cash["USD"] == pytest.approx(cash + realized, abs=0.01)


def test_bad_orders_and_requests_leave_the_account_intact(connect, sim):
    ib = connect()
    spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    codes = []
    ib.errorEvent += lambda req, code, msg, contract: codes.append(code)
    ib.placeOrder(spy, ib_.MarketOrder("BUY", float("nan")))
    ib.sleep(0.3)
    assert 434 in codes and sim.api.broker.orders == {}
    assert {p.conId: p.quantity for p in sim.state.positions}[spy.conId] == 100
    assert list(ib.reqHistoricalData(spy, "", "2000 Y", "1 day", "TRADES", True)) == []
    assert 162 in codes
    assert ib.reqCurrentTime()  # the server still answers at once


def test_persisted_account_survives_a_restart(tmp_path):
    from simulator import Simulator

    path = tmp_path / "account.json"
    with Simulator(port=0, persist=path) as sim:
        ib = ib_.IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        spy = ib.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
        ib.placeOrder(spy, ib_.MarketOrder("BUY", 5, orderRef="kept"))
        ib.sleep(0.3)
        ib.disconnect()
    with Simulator(port=0, persist=path) as sim:
        ib = ib_.IB()
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        try:
            assert {p.contract.symbol: p.position for p in ib.positions()}["SPY"] == 105
            assert [f.execution.orderRef for f in ib.reqExecutions()] == ["kept"]
            assert ib.client.getReqId() > 1  # order ids continue after the restored ones
        finally:
            ib.disconnect()


def test_a_closed_position_is_sent_as_zero_and_stays_in_the_days_portfolio(connect, sim):
    """IB reports a position closed today as an update with position 0: a client's cached
    portfolio drops it, and reqPositions lists it with 0 (ib_async's wrapper reference)."""
    watching, trader = connect(), connect()
    spy = trader.qualifyContracts(ib_.Stock("SPY", "SMART", "USD"))[0]
    updates = []
    watching.updatePortfolioEvent += updates.append
    trade = trader.placeOrder(spy, ib_.MarketOrder("SELL", 100))
    for _ in range(200):  # until the update arrived (a loaded machine may take a while)
        if trade.isDone() and any(u.contract.conId == spy.conId for u in updates):
            break
        watching.sleep(0.05)
    assert trade.orderStatus.status == "Filled"
    assert [u.position for u in updates if u.contract.conId == spy.conId][-1] == 0
    assert {p.contract.symbol for p in watching.portfolio()} == {"TLT"}
    assert {p.contract.symbol for p in trader.portfolio()} == {"TLT"}
    fresh = {p.contract.symbol: p.position for p in watching.reqPositions()}
    assert fresh == {"SPY": 0, "TLT": 50}
    later = connect()  # a session opened after the close: the zero is in its portfolio too
    assert {p.contract.symbol for p in later.portfolio()} == {"TLT"}
    assert [p.conId for p in sim.state.positions] == [15547841]  # the broker holds none
    again = trader.placeOrder(spy, ib_.MarketOrder("BUY", 5))  # reopened: no zero any more
    for _ in range(200):
        if again.isDone():
            break
        trader.sleep(0.05)
    assert again.orderStatus.status == "Filled"
    assert {p.contract.symbol: p.position for p in trader.reqPositions()} == {"SPY": 5, "TLT": 50}
