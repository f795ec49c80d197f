"""The API server: accepts TWS API clients and answers their requests from the state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from simulator.protocol import (
    MIN_CLIENT_VERSION,
    SERVER_VERSION,
    In,
    Out,
    ProtocolError,
    frame,
    parse_handshake,
    split_frames,
)
from simulator.state import State

log = logging.getLogger("simulator")

UNKNOWN_MESSAGE = 505


class ClientSession:
    """One connected API client."""

    def __init__(
        self, server: ApiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.buffer = bytearray()

    @property
    def state(self) -> State:
        return self.server.state

    def send(self, *fields: object) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame(fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(Out.ERROR, 2, req_id, code, text, "")

    async def run(self) -> None:
        peer = self.writer.get_extra_info("peername")
        try:
            if not await self._handshake():
                return
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                self.buffer += data
                for fields in split_frames(self.buffer):
                    await self._dispatch(fields)
                await self.writer.drain()
        except ProtocolError as exc:
            log.warning("closing %s: %s", peer, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.server.sessions.discard(self)
            self.writer.close()

    async def _handshake(self) -> bool:
        hang = self.state.faults.hang_handshake
        while True:
            versions = parse_handshake(self.buffer)
            if versions is not None:
                break
            data = await self.reader.read(4096)
            if not data:
                return False
            self.buffer += data
        if hang:
            log.info("hanging the API handshake for %.1f s", hang)
            await asyncio.sleep(hang)
        low, high = versions
        if high < MIN_CLIENT_VERSION or low > SERVER_VERSION:
            raise ProtocolError(f"no common version with client range v{low}..{high}")
        now = datetime.now().strftime("%Y%m%d %H:%M:%S")
        self.send(min(high, SERVER_VERSION), f"{now} UTC")
        await self.writer.drain()
        return True

    async def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (ValueError, IndexError):
            log.warning("malformed request %r", fields[:3])
            self.error(-1, UNKNOWN_MESSAGE, "Fatal Error: Unknown message id.")
            return
        faults = self.state.faults
        if faults.drop_on_request is not None and msg_id == faults.drop_on_request:
            faults.drop_on_request = None  # one shot
            log.info("fault: dropping every connection on request %d", msg_id)
            self.server.drop_all()
            return
        if self.state.faults.response_delay:
            await asyncio.sleep(self.state.faults.response_delay)
        handler: Callable[[list[str]], None] | None = HANDLERS.get(msg_id)
        if handler is None:
            log.warning("unsupported request %d", msg_id)
            self.error(-1, UNKNOWN_MESSAGE, f"Unsupported request {msg_id}")
            return
        if msg_id != In.START_API and self.client_id is None:
            self.error(-1, UNKNOWN_MESSAGE, "startApi must come first")
            return
        try:
            handler(self, fields)
        except (ValueError, IndexError) as exc:
            log.warning("bad request %d: %s", msg_id, exc)
            self.error(-1, 320, f"Error reading request: {exc}")


class ApiServer:
    """Serves the API port; `sessions` are the connected clients."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.sessions: set[ClientSession] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer)
        self.sessions.add(session)
        await session.run()

    def broadcast_error(self, code: int, text: str) -> None:
        for session in list(self.sessions):
            if session.client_id is not None:
                session.error(-1, code, text)

    def drop_all(self) -> int:
        dropped = len(self.sessions)
        for session in list(self.sessions):
            session.writer.transport.abort()
        return dropped

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# -- request handlers ---------------------------------------------------------------------------


def start_api(s: ClientSession, fields: list[str]) -> None:
    client_id = int(fields[2])
    if any(o.client_id == client_id for o in s.server.sessions if o is not s):
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
    if s.state.faults.competing_session:
        s.error(-1, 10197, "No market data during competing live session")


def current_time(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.CURRENT_TIME, 1, int(time.time()))


def positions(s: ClientSession, fields: list[str]) -> None:
    st = s.state
    for p in st.positions:
        instrument = st.instrument(p.conId)
        if instrument is not None:
            s.send(
                Out.POSITION,
                3,
                st.account,
                *instrument.contract_fields(),
                p.quantity,
                p.averageCost,
            )
    s.send(Out.POSITION_END, 1)


def account_values(st: State) -> list[tuple[str, str, str]]:
    """(key, value, currency) as reqAccountUpdates reports them."""
    base, net = st.base_currency, st.net_liquidation()
    gross = sum(abs(st.market_value(p)) for p in st.positions)
    values = [
        ("AccountType", "INDIVIDUAL", ""),
        ("NetLiquidation", f"{net:.2f}", base),
        ("TotalCashValue", f"{sum(a * st.fx.get(c, 1) for c, a in st.cash.items()):.2f}", base),
        ("GrossPositionValue", f"{gross:.2f}", base),
        ("MaintMarginReq", f"{gross * 0.25:.2f}", base),
        ("BuyingPower", f"{(net - gross * 0.25) * 4:.2f}", base),
        ("AvailableFunds", f"{net - gross * 0.25:.2f}", base),
        ("ExcessLiquidity", f"{net - gross * 0.25:.2f}", base),
    ]
    for ccy, amount in st.cash.items():
        values.append(("CashBalance", f"{amount:.2f}", ccy))
        values.append(("ExchangeRate", f"{st.fx.get(ccy, 1.0):.6f}", ccy))
    values.append(
        ("CashBalance", f"{sum(a * st.fx.get(c, 1) for c, a in st.cash.items()):.2f}", "BASE")
    )
    return values


def account_updates(s: ClientSession, fields: list[str]) -> None:
    subscribe, account = fields[2], fields[3] if len(fields) > 3 else ""
    st = s.state
    if subscribe in ("0", "False"):
        return
    for key, value, ccy in account_values(st):
        s.send(Out.ACCOUNT_VALUE, 2, key, value, ccy, st.account)
    for p in st.positions:
        instrument = st.instrument(p.conId)
        if instrument is None:
            continue
        multiplier = float(instrument.multiplier or 1)
        value = p.quantity * instrument.price * multiplier
        unrealized = value - p.quantity * p.averageCost
        s.send(
            Out.PORTFOLIO_VALUE,
            8,
            *instrument.contract_fields(instrument.primaryExchange),
            p.quantity,
            instrument.price,
            round(value, 2),
            p.averageCost,
            round(unrealized, 2),
            0.0,
            st.account,
        )
    s.send(Out.ACCOUNT_TIME, 1, datetime.now().strftime("%H:%M"))
    s.send(Out.ACCOUNT_DOWNLOAD_END, 1, account or st.account)


def account_updates_multi(s: ClientSession, fields: list[str]) -> None:
    req_id, model = int(fields[2]), fields[4] if len(fields) > 4 else ""
    for key, value, ccy in account_values(s.state):
        s.send(Out.ACCOUNT_UPDATE_MULTI, 1, req_id, s.state.account, model, key, value, ccy)
    s.send(Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id)


def account_summary(s: ClientSession, fields: list[str]) -> None:
    req_id, tags = int(fields[2]), fields[4] if len(fields) > 4 else "All"
    wanted = None if tags in ("", "All") else set(tags.split(","))
    for key, value, ccy in account_values(s.state):
        if ccy != "BASE" and (wanted is None or key in wanted):
            s.send(Out.ACCOUNT_SUMMARY, 1, req_id, s.state.account, key, value, ccy)
    s.send(Out.ACCOUNT_SUMMARY_END, 1, req_id)


def open_orders(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.OPEN_ORDER_END, 1)


def completed_orders(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.COMPLETED_ORDERS_END)


def executions(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.EXECUTION_DATA_END, 1, int(fields[2]))


def managed_accounts(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.MANAGED_ACCTS, 1, s.state.account)


def next_ids(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.NEXT_VALID_ID, 1, s.state.next_order_id)


def market_data_type(s: ClientSession, fields: list[str]) -> None:
    s.send(Out.MARKET_DATA_TYPE, 1, -1, int(fields[2]))


def ignore(s: ClientSession, fields: list[str]) -> None:
    """Requests that need no answer (cancellations, auto-bind)."""


HANDLERS: dict[int, Callable[[ClientSession, list[str]], None]] = {
    In.START_API: start_api,
    In.REQ_CURRENT_TIME: current_time,
    In.REQ_POSITIONS: positions,
    In.REQ_ACCOUNT_UPDATES: account_updates,
    In.REQ_ACCOUNT_UPDATES_MULTI: account_updates_multi,
    In.REQ_ACCOUNT_SUMMARY: account_summary,
    In.REQ_OPEN_ORDERS: open_orders,
    In.REQ_ALL_OPEN_ORDERS: open_orders,
    In.REQ_COMPLETED_ORDERS: completed_orders,
    In.REQ_EXECUTIONS: executions,
    In.REQ_MANAGED_ACCTS: managed_accounts,
    In.REQ_IDS: next_ids,
    In.REQ_MARKET_DATA_TYPE: market_data_type,
    In.REQ_AUTO_OPEN_ORDERS: ignore,
    In.CANCEL_ACCOUNT_SUMMARY: ignore,
    In.CANCEL_POSITIONS: ignore,
    In.CANCEL_ACCOUNT_UPDATES_MULTI: ignore,
}
