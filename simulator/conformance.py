"""Conformance: ib_async calls whose answers must have IB's shapes and codes, run against the
simulator or, unchanged, against a real (paper) gateway.

    python -m simulator.conformance --simulator            # starts one on free ports
    python -m simulator.conformance --port 4002 [--control-port 4003] [--no-fills]

Each check prints PASS, FAIL with the reason, or SKIP (a check that needs the simulator's
control port to provoke the error, or fills outside market hours with --no-fills). The exit
status is 1 when any check failed. Orders are one share: a limit far from the market that is
cancelled, and (unless --no-fills) a market buy sold back at once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import ib_async

NO_SUCH_SYMBOL = "NO SUCH SYMBOL 1"
ERROR_WAIT = 5.0


class Skipped(Exception):
    """The check cannot run here (no control port, no fills wanted)."""


@dataclass
class Run:
    ib: ib_async.IB
    symbol: str
    control: str | None  # http://host:port of the simulator's control interface
    fills: bool
    timeout: float = 15.0  # for each request and each order's status
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # reqId, code, text
    stock: Any = None

    def on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        self.errors.append((req_id, code, text))

    def codes(self, since: int) -> set[int]:
        return {code for _, code, _ in self.errors[since:]}

    def fault(self, body: dict[str, Any] | None) -> None:
        if self.control is None:
            raise Skipped("needs the simulator's control port")
        path = "/faults/reset" if body is None else "/faults"
        request = urllib.request.Request(
            self.control + path, json.dumps(body or {}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def until_error(self, request: Awaitable[Any], codes: set[int]) -> set[int]:
        """Send a request, wait until one of `codes` arrives (or ERROR_WAIT), and return the
        codes seen; ib_async takes some of IB's errors (321) for warnings and would wait on."""
        since = len(self.errors)

        async def wait() -> None:
            task = asyncio.ensure_future(request)
            for _ in range(int(ERROR_WAIT / 0.05)):
                if task.done() or self.codes(since) & codes:
                    break
                await asyncio.sleep(0.05)
            task.cancel()

        self.ib.run(wait())
        return self.codes(since)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value)) and abs(float(value)) < 1e300
    except (TypeError, ValueError):
        return False


def _stock(run: Run) -> Any:
    if run.stock is None:
        run.stock = run.ib.qualifyContracts(ib_async.Stock(run.symbol, "SMART", "USD"))[0]
    return run.stock


def connect(run: Run) -> None:
    assert run.ib.isConnected(), "not connected"
    assert run.ib.client.serverVersion() >= 157, run.ib.client.serverVersion()
    accounts = run.ib.managedAccounts()
    assert accounts and all(a[:1] in ("D", "U", "F", "I") for a in accounts), accounts
    assert run.ib.reqCurrentTime().year >= 2024


def qualify(run: Run) -> None:
    stock, pair = run.ib.qualifyContracts(
        ib_async.Stock(run.symbol, "SMART", "USD"), ib_async.Forex("EURUSD")
    )
    assert stock.conId > 0 and stock.primaryExchange and stock.currency == "USD", stock
    assert (pair.secType, pair.localSymbol, pair.exchange) == ("CASH", "EUR.USD", "IDEALPRO")
    again = run.ib.qualifyContracts(ib_async.Contract(conId=stock.conId))[0]
    assert again.symbol == stock.symbol, again


def contract_details(run: Run) -> None:
    details = run.ib.reqContractDetails(_stock(run))
    assert len(details) == 1, details
    d = details[0]
    assert d.minTick > 0 and "SMART" in d.validExchanges.split(","), d
    assert {"LMT", "MKT", "MOC", "LOC"} <= set(d.orderTypes.split(",")), d.orderTypes
    assert d.longName and d.timeZoneId, d


def tickers(run: Run) -> None:
    run.ib.reqMarketDataType(3)  # delayed where there is no subscription: always answered
    ticker = run.ib.reqTickers(_stock(run))[0]
    assert 0 < ticker.bid <= ticker.ask, ticker
    assert ticker.marketPrice() > 0, ticker


def historical_data(run: Run) -> None:
    daily = run.ib.reqHistoricalData(_stock(run), "", "1 M", "1 day", "TRADES", True)
    assert len(daily) >= 15 and all(type(b.date) is date for b in daily), daily[:2]
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in daily)
    bars = run.ib.reqHistoricalData(_stock(run), "", "1 D", "5 mins", "TRADES", True)
    assert bars and all(isinstance(b.date, datetime) and b.date.tzinfo for b in bars), bars[:2]
    assert all(a.date < b.date for a, b in itertools.pairwise(bars))


def account_summary(run: Run) -> None:
    values = {(v.tag, v.currency): v.value for v in run.ib.accountSummary()}
    for tag in ("NetLiquidation", "ExcessLiquidity", "MaintMarginReq", "BuyingPower"):
        found = [value for (t, _), value in values.items() if t == tag]
        assert found and _finite(found[0]), (tag, found)


def positions(run: Run) -> None:
    accounts = set(run.ib.managedAccounts())
    for p in run.ib.reqPositions():
        assert p.account in accounts and p.contract.conId > 0 and _finite(p.position), p


def what_if(run: Run) -> None:
    before = {t.order.orderId for t in run.ib.reqAllOpenOrders()}
    state = run.ib.whatIfOrder(_stock(run), ib_async.MarketOrder("BUY", 1))
    assert isinstance(state, ib_async.OrderState), state
    for name in ("initMarginChange", "maintMarginChange", "equityWithLoanAfter"):
        assert _finite(getattr(state, name)), (name, state)
    assert any(_finite(c) for c in (state.commission, state.minCommission, state.maxCommission))
    assert len(state.commissionCurrency) == 3, state
    assert {t.order.orderId for t in run.ib.reqAllOpenOrders()} == before, "a whatIf was placed"


def place_cancel(run: Run) -> None:
    stock = _stock(run)
    bid = run.ib.reqTickers(stock)[0].bid
    price = round(max(bid * 0.5, 0.01), 2)
    trade = run.ib.placeOrder(stock, ib_async.LimitOrder("BUY", 1, price, tif="DAY"))
    _wait(run, lambda: trade.orderStatus.status in ("Submitted", "PreSubmitted"))
    assert trade.orderStatus.status in ("Submitted", "PreSubmitted"), trade.orderStatus
    assert trade.order.permId > 0, trade.order
    since = len(run.errors)
    run.ib.cancelOrder(trade.order)
    _wait(run, lambda: trade.orderStatus.status == "Cancelled")
    assert trade.orderStatus.status == "Cancelled", trade.orderStatus
    assert 202 in run.codes(since), run.errors[since:]


def executions(run: Run) -> None:
    if not run.fills:
        raise Skipped("--no-fills")
    stock = _stock(run)
    trade = run.ib.placeOrder(stock, ib_async.MarketOrder("BUY", 1))
    _wait(run, lambda: trade.isDone() and bool(trade.fills) and _reported(trade))
    assert trade.orderStatus.status == "Filled", trade.orderStatus
    fill = trade.fills[0]
    assert fill.execution.side == "BOT" and fill.execution.shares == 1, fill
    assert _finite(fill.commissionReport.commission), fill.commissionReport
    found = run.ib.reqExecutions(ib_async.ExecutionFilter(clientId=run.ib.client.clientId))
    assert fill.execution.execId in {f.execution.execId for f in found}, found
    back = run.ib.placeOrder(stock, ib_async.MarketOrder("SELL", 1))
    _wait(run, back.isDone)


def error_200(run: Run) -> None:
    since = len(run.errors)
    found = run.ib.reqContractDetails(ib_async.Stock(NO_SUCH_SYMBOL, "SMART", "USD"))
    assert found == [] and 200 in run.codes(since), run.errors[since:]


def error_321(run: Run) -> None:
    request = run.ib.reqHistoricalDataAsync(_stock(run), "", "1 D", "7 mins", "TRADES", True)
    codes = run.until_error(request, {321})
    assert 321 in codes, codes


def error_162(run: Run) -> None:
    request = run.ib.reqHistoricalDataAsync(_stock(run), "", "1 Y", "1 min", "TRADES", True)
    codes = run.until_error(request, {162})
    assert 162 in codes, codes


def error_354(run: Run) -> None:
    run.fault({"market_data_unsubscribed": True})
    try:
        run.ib.reqMarketDataType(1)
        stock = _stock(run)
        codes = run.until_error(_snapshot(run, stock), {354})
        assert 354 in codes, codes
    finally:
        run.ib.reqMarketDataType(3)
        run.fault(None)


async def _snapshot(run: Run, contract: Any) -> None:
    run.ib.reqMktData(contract, "", True, False)
    await asyncio.sleep(ERROR_WAIT)


def _reported(trade: Any) -> bool:
    return all(f.commissionReport.execId for f in trade.fills)


def _wait(run: Run, done: Callable[[], bool]) -> None:
    for _ in range(int(run.timeout / 0.1)):
        if done():
            return
        run.ib.sleep(0.1)


CHECKS: list[tuple[str, Callable[[Run], None]]] = [
    ("connect", connect),
    ("qualify", qualify),
    ("contract details", contract_details),
    ("tickers", tickers),
    ("historical data", historical_data),
    ("account summary", account_summary),
    ("positions", positions),
    ("whatIf", what_if),
    ("place/cancel", place_cancel),
    ("executions", executions),
    ("error 200", error_200),
    ("error 321", error_321),
    ("error 162", error_162),
    ("error 354", error_354),
]


def run_checks(
    host: str,
    port: int,
    client_id: int,
    control: str | None,
    symbol: str,
    fills: bool,
    timeout: float = 15.0,
) -> dict[str, str]:
    """{check name: "PASS" | "FAIL: why" | "SKIP: why"}, in CHECKS order."""
    ib = ib_async.IB()
    ib.RequestTimeout = timeout
    outcomes: dict[str, str] = {}
    ib.connect(host, port, clientId=client_id, timeout=15)
    run = Run(ib, symbol, control, fills, timeout)
    ib.errorEvent += run.on_error
    try:
        for name, check in CHECKS:
            try:
                check(run)
            except Skipped as exc:
                outcomes[name] = f"SKIP: {exc}"
            except Exception as exc:  # a check's failure is reported, the others still run
                outcomes[name] = f"FAIL: {type(exc).__name__}: {exc}"[:500]
            else:
                outcomes[name] = "PASS"
    finally:
        ib.disconnect()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.conformance", description=__doc__)
    parser.add_argument("--simulator", action="store_true", help="start one on free ports")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--control-port", type=int, help="the simulator's control port")
    parser.add_argument("--client-id", type=int, default=917)
    parser.add_argument("--symbol", default="SPY")
    parser.add_argument("--no-fills", action="store_true", help="skip what needs a fill")
    args = parser.parse_args(argv)
    if args.simulator:
        from simulator import Simulator

        with Simulator(host=args.host, port=0, control_port=0, seed=1) as sim:
            outcomes = run_checks(
                args.host,
                sim.port,
                args.client_id,
                f"http://{args.host}:{sim.control_port}",
                args.symbol,
                not args.no_fills,
            )
    else:
        control = f"http://{args.host}:{args.control_port}" if args.control_port else None
        outcomes = run_checks(
            args.host, args.port, args.client_id, control, args.symbol, not args.no_fills
        )
    for name, outcome in outcomes.items():
        print(f"{outcome.split(':')[0]:4} {name}{outcome[4:]}")
    failed = [n for n, o in outcomes.items() if o.startswith("FAIL")]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} checks passed or skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
