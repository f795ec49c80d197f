"""Request handlers: one function per TWS API request the simulator answers."""

from __future__ import annotations

import asyncio
import logging
import re

from simulator import bars, clock, hours, messages, pacing
from simulator.catalogue import NO_SECURITY, RefusedContract, find, find_one
from simulator.instruments import Instrument
from simulator.order_handlers import (
    all_open_orders,
    cancel_order,
    completed_orders,
    executions,
    open_orders,
    place_order,
    publish_fill,
)
from simulator.orders import Fields
from simulator.protocol import In, Out
from simulator.replies import account_values, day_positions, send_account, send_position
from simulator.session import Handler, Session

log = logging.getLogger("simulator")
UNSUBSCRIBED = (354, "Requested market data is not subscribed.Delayed market data is available.")
TICKS = {"bid": (1, 0), "ask": (2, 3), "last": (4, 5), "close": (9, None)}
DELAY_SECONDS = 15 * 60  # IB's delayed data: 15-20 minutes late
DELAYED_TICKS = {"bid": 66, "ask": 67, "last": 68, "close": 75}  # market data types 3 and 4


# -- session and account --------------------------------------------------------------------------


FARMS_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
)


def start_api(s: Session, fields: list[str]) -> None:
    client_id = int(fields[2])
    live = [o for o in s.server.sessions if o is not s and not o.writer.transport.is_closing()]
    if any(o.client_id == client_id for o in live):
        s.error(
            -1,
            326,
            f"Unable to connect as the client id {client_id} is already in use. "
            "Retry with a unique client id.",
        )
        s.writer.close()
        return
    s.client_id = client_id
    s.send(Out.NEXT_VALID_ID, 1, s.state.next_order_id)
    s.send(Out.MANAGED_ACCTS, 1, s.state.account)
    for code, message in FARMS_OK:  # what a gateway says after every login
        s.error(-1, code, message)
    if s.state.faults.competing_session:
        s.error(-1, 10197, "No market data during competing live session")


def current_time(s: Session, fields: list[str]) -> None:
    s.send(Out.CURRENT_TIME, 1, int(clock.now(s.state).timestamp()))


def account_updates(s: Session, fields: list[str]) -> None:
    s.account_updates = fields[2] not in ("0", "False", "")
    if s.account_updates:
        send_account(s)
        s.send(Out.ACCOUNT_DOWNLOAD_END, 1, s.state.account)


def account_updates_multi(s: Session, fields: list[str]) -> None:
    req_id, model = int(fields[2]), fields[4] if len(fields) > 4 else ""
    for key, value, ccy in account_values(s.state):
        s.send(Out.ACCOUNT_UPDATE_MULTI, 1, req_id, s.state.account, model, key, value, ccy)
    s.send(Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id)


def account_summary(s: Session, fields: list[str]) -> None:
    req_id, tags = int(fields[2]), fields[4] if len(fields) > 4 else "All"
    wanted = None if tags in ("", "All") else set(tags.split(","))
    for key, value, ccy in account_values(s.state):
        if ccy != "BASE" and (wanted is None or key in wanted):
            s.send(Out.ACCOUNT_SUMMARY, 1, req_id, s.state.account, key, value, ccy)
    s.send(Out.ACCOUNT_SUMMARY_END, 1, req_id)


def positions(s: Session, fields: list[str]) -> None:
    s.position_updates = True
    for p in day_positions(s):
        send_position(s, p.conId)
    s.send(Out.POSITION_END, 1)


def managed_accounts(s: Session, fields: list[str]) -> None:
    s.send(Out.MANAGED_ACCTS, 1, s.state.account)


def next_ids(s: Session, fields: list[str]) -> None:
    s.send(Out.NEXT_VALID_ID, 1, s.state.next_order_id)


# -- contracts and market data --------------------------------------------------------------------


def contract_details(s: Session, fields: list[str]) -> None:
    f = Fields(fields, start=2)
    req_id, want = int(f.next()), f.contract()
    try:
        found = find(s.state, want, needs_exchange=False)
    except RefusedContract as exc:
        s.error(req_id, exc.code, exc.message)
        return
    now = clock.now(s.state)
    for instrument in found:
        s.send(
            *messages.contract_details(
                req_id, instrument, hours.contract_hours(instrument, now, s.state.calendar)
            )
        )
    s.send(Out.CONTRACT_DATA_END, 1, req_id)


def market_data_type(s: Session, fields: list[str]) -> None:
    s.market_data_type = int(fields[2])


def _send_ticks(s: Session, req_id: int, instrument: Instrument) -> None:
    halted = instrument.symbol in s.state.faults.halted
    if not halted:
        s.server.market.step(instrument)
    for order, execution in s.server.broker.crossed(instrument):  # limits the quote reached
        publish_fill(s, order, execution)
    bid, ask = s.server.market.bid_ask(instrument)
    for name, price in (
        ("bid", bid),
        ("ask", ask),
        ("last", instrument.price),
        ("close", instrument.price),
    ):
        tick = DELAYED_TICKS[name] if s.market_data_type in (3, 4) else TICKS[name][0]
        size = 0 if name == "close" or (halted and name in ("bid", "ask")) else 100
        s.send(Out.TICK_PRICE, 6, req_id, tick, price, size, 0)  # halted: no quote (size 0)
    traded = s.server.market.traded(instrument, clock.now(s.state), halted)
    if s.market_data_type in (3, 4):  # delayed: the market as it was 15 minutes ago
        s.send(Out.TICK_STRING, 6, req_id, 88, int(traded.timestamp()) - DELAY_SECONDS)
    else:
        s.send(Out.TICK_STRING, 6, req_id, 45, int(traded.timestamp()))


def market_data(s: Session, fields: list[str]) -> None:
    f = Fields(fields, start=2)
    req_id, want = int(f.next()), f.contract()
    if f.next() == "1":  # delta-neutral contract
        f.skip(3)
    f.next()  # generic tick list
    snapshot = f.next() == "1"
    try:
        found = find(s.state, want)
    except RefusedContract as exc:
        s.error(req_id, exc.code, exc.message)
        return
    faults = s.state.faults
    unsubscribed = faults.market_data_unsubscribed or any(
        i.symbol in faults.no_market_data for i in found
    )
    if unsubscribed and s.market_data_type in (1, 2):
        s.error(req_id, *UNSUBSCRIBED)
        return
    if len(found) != 1:
        s.error(req_id, *NO_SECURITY)
        return
    s.send(Out.MARKET_DATA_TYPE, 1, req_id, s.market_data_type)
    _send_ticks(s, req_id, found[0])
    if snapshot:
        s.send(Out.TICK_SNAPSHOT_END, 1, req_id)
        return

    async def stream() -> None:
        while True:
            await asyncio.sleep(0.5)
            _send_ticks(s, req_id, found[0])

    s.streams[req_id] = asyncio.ensure_future(stream())


def cancel_market_data(s: Session, fields: list[str]) -> None:
    task = s.streams.pop(int(fields[2]), None)
    if task is not None:
        task.cancel()


MAX_BAR_DAYS = 252 * 20
HMDS = "Historical Market Data Service error message:"


def _days(duration: str) -> int:
    """Trading days of daily bars in an IB duration string ("30 D", "2 W", "6 M", "1 Y")."""
    match = re.fullmatch(r"(\d+)\s*([SDWMY])", duration.strip().upper())
    if not match:
        raise ValueError(f"bad duration {duration!r}")
    count, unit = int(match[1]), match[2]
    if unit in ("S", "D"):
        return max(1, count * 5 // 7) if unit == "D" else 1
    return count * {"W": 5, "M": 21, "Y": 252}[unit]


def _bars(s: Session, instrument: Instrument, request: list[str]) -> list[bars.Bar]:
    end_text, bar_size, duration, use_rth = request
    bar, wanted = bars.check(bar_size, duration)
    end = bars.parse_end(end_text, clock.now(s.state))
    market = s.server.market
    if bar >= bars.DAY:
        days = _days(duration)
        if bar > bars.DAY:  # at least one whole week or month
            days = max(days, 5 if bar == bars.WEEK else 21)
        daily = [bars.Bar(*row) for row in market.daily_bars(instrument, days, end.date())]
        return daily if bar == bars.DAY else bars.aggregate(daily, bar)
    starts = bars.bar_starts(end, bar, wanted, instrument.secType, use_rth not in ("0", ""))
    key = starts[-1].isoformat() if starts else ""
    seed = f"{market.seed}-{instrument.conId}-{bar}-{key}"
    return bars.intraday(market.anchor(instrument), seed, starts, bar)


def historical_data(s: Session, fields: list[str]) -> None:
    f = Fields(fields)
    req_id, want = int(f.next()), f.contract()
    f.next()  # includeExpired
    end_text, bar_size, duration, use_rth = f.next(), f.next(), f.next(), f.next()
    what_to_show = f.next()
    format_date = f.next()
    if s.state.faults.pacing_violation:
        s.state.faults.pacing_violation = False
        s.error(req_id, 162, f"{HMDS}API scanner subscription cancelled: pacing violation")
        return
    try:
        instrument = find_one(s.state, want)
    except RefusedContract as exc:
        s.error(req_id, exc.code, exc.message)
        return
    series = (str(instrument.conId), want.get("exchange", ""), what_to_show)
    key = (*series, end_text, bar_size, duration, use_rth)
    if s.state.faults.pacing_limits and not pacing.log_of(s.server).answer(key, series):
        if not s.state.faults.pacing_silent:  # IB answers some violations with nothing at all
            s.error(req_id, 162, pacing.VIOLATION)
        return
    try:
        rows_ = _bars(s, instrument, [end_text, bar_size, duration, use_rth])
    except bars.BarsRefused as exc:
        s.error(req_id, exc.code, str(exc))
        return
    rows: list[object] = []
    for b in rows_:
        rows += [
            bars.label(b, format_date),
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            round((b.high + b.low + b.close) / 3, 4),
            b.volume // 100,
        ]
    first = bars.label(rows_[0], format_date) if rows_ else ""
    last = bars.label(rows_[-1], format_date) if rows_ else ""
    s.send(Out.HISTORICAL_DATA, req_id, first, last, len(rows_), *rows)


def ignore(s: Session, fields: list[str]) -> None:
    """Requests that need no answer (cancellations, auto-bind)."""


HANDLERS: dict[int, Handler] = {
    In.START_API: start_api,
    In.REQ_CURRENT_TIME: current_time,
    In.REQ_POSITIONS: positions,
    In.REQ_ACCOUNT_UPDATES: account_updates,
    In.REQ_ACCOUNT_UPDATES_MULTI: account_updates_multi,
    In.REQ_ACCOUNT_SUMMARY: account_summary,
    In.REQ_OPEN_ORDERS: open_orders,
    In.REQ_ALL_OPEN_ORDERS: all_open_orders,
    In.REQ_COMPLETED_ORDERS: completed_orders,
    In.REQ_EXECUTIONS: executions,
    In.REQ_MANAGED_ACCTS: managed_accounts,
    In.REQ_IDS: next_ids,
    In.REQ_MARKET_DATA_TYPE: market_data_type,
    In.REQ_CONTRACT_DETAILS: contract_details,
    In.REQ_MKT_DATA: market_data,
    In.CANCEL_MKT_DATA: cancel_market_data,
    In.REQ_HISTORICAL_DATA: historical_data,
    In.PLACE_ORDER: place_order,
    In.CANCEL_ORDER: cancel_order,
    In.REQ_AUTO_OPEN_ORDERS: ignore,
    In.CANCEL_ACCOUNT_SUMMARY: ignore,
    In.CANCEL_POSITIONS: ignore,
    In.CANCEL_ACCOUNT_UPDATES_MULTI: ignore,
    In.CANCEL_HISTORICAL_DATA: ignore,
}
