"""Order types in the simulator: MOC/LOC work until the simulated close (refused from the 15:50
cut-off, ten minutes before an early close), then MOC fills at the close and LOC only at or
better than its limit, else it is cancelled; a limit order fills only once the market reaches
its limit, a marketable one at once at the better market price."""

from __future__ import annotations

from datetime import UTC, datetime

import ib_async
import pytest

from simulator import close_orders
from simulator.broker import Order, OrderError
from simulator.market import default_instruments

SPY = default_instruments()[0]
NORMAL = "2026-12-07T15:45:00-05:00"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("kind", "tif", "limit", "when", "code", "words"),
    [
        ("MOC", "GTC", None, NORMAL, 387, "DAY"),
        ("LOC", "DAY", None, NORMAL, 320, "Limit price missing"),
        ("STP", "DAY", None, NORMAL, 387, "Unsupported order type STP"),
        ("MOC", "DAY", None, "2026-12-07T15:55:00-05:00", 201, "before 15:50"),
        ("LOC", "DAY", 500.0, "2026-11-27T12:55:00-05:00", 201, "before 12:50"),
    ],
)
def test_orders_ib_would_refuse(kind, tif, limit, when, code, words):
    with pytest.raises(close_orders.Refused) as refused:
        close_orders.check(kind, tif, limit, SPY, at(when), True)
    assert refused.value.code == code and words in str(refused.value)


def test_a_close_order_is_for_todays_close_or_the_next_sessions():
    assert close_orders.check("MOC", "DAY", None, SPY, at(NORMAL), True) == at(
        "2026-12-07T16:00:00-05:00"
    )
    early = close_orders.check("MOC", "DAY", None, SPY, at("2026-11-27T08:00:00-05:00"), True)
    assert early == at("2026-11-27T13:00:00-05:00")
    weekend = close_orders.check("MOC", "DAY", None, SPY, at("2026-12-05T12:00:00-05:00"), True)
    assert weekend == at("2026-12-07T16:00:00-05:00")
    assert close_orders.check("MKT", "GTC", None, SPY, at(NORMAL), True) is None


@pytest.mark.parametrize(
    ("kind", "action", "limit", "close", "fills"),
    [
        ("MOC", "BUY", None, 500.0, True),
        ("LOC", "BUY", 500.0, 500.0, True),
        ("LOC", "BUY", 499.0, 500.0, False),
        ("LOC", "SELL", 499.0, 500.0, True),
        ("LOC", "SELL", 501.0, 500.0, False),
    ],
)
def test_what_fills_at_the_close(kind, action, limit, close, fills):
    assert close_orders.fills_at_close(kind, action, limit, close) is fills


def spy(ib: ib_async.IB) -> ib_async.Contract:
    return ib.qualifyContracts(ib_async.Stock("SPY", "SMART", "USD"))[0]


def close_order(kind: str, action: str, limit: float | None = None) -> ib_async.Order:
    order = ib_async.Order(action=action, totalQuantity=5, orderType=kind, tif="DAY")
    if limit is not None:
        order.lmtPrice = limit
    return order


def wait_for(ib: ib_async.IB, trade: ib_async.Trade, statuses: tuple[str, ...]) -> str:
    for _ in range(30):
        if trade.orderStatus.status in statuses:
            break
        ib.sleep(0.1)
    return trade.orderStatus.status


def test_moc_and_loc_work_until_the_close_then_fill_or_cancel(connect, sim):
    ib = connect()
    sim.call("POST", "/clock", {"now": NORMAL})
    contract = spy(ib)
    price = sim.state.instrument(contract.conId).price
    held = {p.conId: p.quantity for p in sim.state.positions}.get(contract.conId, 0)
    moc = ib.placeOrder(contract, close_order("MOC", "BUY"))
    loc_fills = ib.placeOrder(contract, close_order("LOC", "BUY", round(price * 1.2, 2)))
    loc_misses = ib.placeOrder(contract, close_order("LOC", "BUY", round(price * 0.8, 2)))
    ib.sleep(0.3)
    trades = (moc, loc_fills, loc_misses)
    assert {t.orderStatus.status for t in trades} == {"Submitted"}
    assert sim.api.broker.executions == []
    sim.call("POST", "/clock", {"now": "2026-12-07T15:59:00-05:00"})
    ib.sleep(0.2)
    assert {t.orderStatus.status for t in trades} == {"Submitted"}  # not yet the close
    sim.call("POST", "/clock", {"now": "2026-12-07T16:01:00-05:00"})
    assert wait_for(ib, moc, ("Filled",)) == "Filled"
    assert wait_for(ib, loc_fills, ("Filled",)) == "Filled"
    assert wait_for(ib, loc_misses, ("Cancelled",)) == "Cancelled"
    fill = moc.fills[0].execution
    assert fill.time == datetime(2026, 12, 7, 21, 0, tzinfo=UTC)  # at the close itself
    assert fill.price == loc_fills.fills[0].execution.price  # one closing price
    after = {p.conId: p.quantity for p in sim.state.positions}[contract.conId]
    assert after == held + 10


def test_a_moc_order_after_the_cutoff_is_refused(connect, sim):
    ib = connect()
    sim.call("POST", "/clock", {"now": "2026-12-07T15:55:00-05:00"})
    trade = ib.placeOrder(spy(ib), close_order("MOC", "BUY"))
    assert wait_for(ib, trade, ("Cancelled",)) == "Cancelled"
    assert any(e.errorCode == 201 for e in trade.log)
    assert sim.api.broker.orders == {}


def test_a_limit_order_fills_only_once_the_market_reaches_it(connect, sim):
    ib = connect()
    sim.call("POST", "/clock", {"now": NORMAL})
    contract = spy(ib)
    instrument = sim.state.instrument(contract.conId)
    limit = round(instrument.price * 0.95, 2)
    trade = ib.placeOrder(contract, ib_async.LimitOrder("BUY", 4, limit))
    ib.sleep(0.3)
    assert trade.orderStatus.status == "Submitted" and trade.fills == []
    ib.reqTickers(contract)  # the market moves a little: still far above the limit
    assert trade.orderStatus.status == "Submitted"
    instrument.price = limit * 0.99  # the market falls through the limit
    ib.reqTickers(contract)
    assert wait_for(ib, trade, ("Filled",)) == "Filled"
    assert trade.fills[0].execution.price <= limit


def test_a_marketable_limit_fills_at_once_at_the_better_market_price(connect, sim):
    ib = connect()
    sim.call("POST", "/clock", {"now": NORMAL})
    contract = spy(ib)
    limit = round(sim.state.instrument(contract.conId).price * 1.01, 2)
    trade = ib.placeOrder(contract, ib_async.LimitOrder("BUY", 4, limit))
    assert wait_for(ib, trade, ("Filled",)) == "Filled"
    assert trade.fills[0].execution.price < limit


def test_contract_details_list_the_order_types_ib_lists_and_the_broker_takes():
    listed = close_orders.listed("STK").split(",")
    assert listed == sorted(listed) and {"MKT", "LMT", "MOC", "LOC", "ALGO"} <= set(listed)
    for kind in set(listed) - {"ALGO"}:  # every type listed is accepted (ALGO rides on MKT)
        close_orders.check(kind, "DAY", 500.0, SPY, at(NORMAL), True)
    forex = next(i for i in default_instruments() if i.secType == "CASH")
    assert close_orders.listed("CASH") == "LMT,MKT"
    with pytest.raises(close_orders.Refused) as refused:
        close_orders.check("MOC", "DAY", None, forex, at(NORMAL), True)
    assert refused.value.code == 387


def test_a_modification_keeps_what_filled_and_a_done_order_is_not_modified(sim):
    """A reprice is the same order sent again: IB keeps its fills (only the remainder can fill)
    and refuses to modify a filled or cancelled order (104); before, the simulator reset the
    filled quantity and filled the whole size again."""
    sim.call("POST", "/clock", {"now": NORMAL})
    broker = sim.api.broker
    instrument = sim.state.instrument(SPY.conId)

    def lmt(limit: float) -> Order:
        return Order(1, 1, 0, instrument, "BUY", 10, "LMT", round(limit, 2))

    resting = broker.place(lmt(instrument.price * 0.9))
    assert resting.status == "Submitted"
    broker._fill(resting, 4, resting.lmtPrice)  # part filled while it rests
    moved = broker.place(lmt(instrument.price * 0.95))
    assert (moved.permId, moved.filled, moved.status) == (resting.permId, 4, "Submitted")
    done = broker.place(lmt(instrument.price * 1.05))  # marketable now: the remainder fills
    assert (done.filled, done.status) == (10, "Filled")
    assert sum(e.shares for e in broker.executions if e.permId == done.permId) == 10
    with pytest.raises(OrderError) as refused:
        broker.place(lmt(instrument.price * 1.05))
    assert refused.value.code == 104
    assert sum(e.shares for e in broker.executions if e.permId == done.permId) == 10
