"""The API server: accepts TWS API clients and answers their requests from the state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from simulator import clock
from simulator.broker import Broker
from simulator.handlers import HANDLERS
from simulator.market import Market
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
        self.account_updates = False
        self.position_updates = False
        self.market_data_type = 1
        self.streams: dict[int, asyncio.Task[None]] = {}

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
            for task in self.streams.values():
                task.cancel()
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
        now = clock.now(self.state).strftime("%Y%m%d %H:%M:%S")
        self.send(min(high, SERVER_VERSION), f"{now} UTC")
        await self.writer.drain()
        return True

    async def _answer_after(self, seconds: float) -> bool:
        """Wait `seconds` before answering; False when the connection is dropped first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.writer.transport.is_closing():
            left = deadline - loop.time()
            if left <= 0:
                return True
            await asyncio.sleep(min(left, 0.1))
        return False

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
        if self.state.faults.response_delay and not await self._answer_after(
            self.state.faults.response_delay
        ):
            return  # dropped while it waited: a hung gateway's connection, gone
        handler = HANDLERS.get(msg_id)
        if handler is None:
            log.warning("unsupported request %d", msg_id)
            self.error(-1, UNKNOWN_MESSAGE, f"Unsupported request {msg_id}")
            return
        if msg_id != In.START_API and self.client_id is None:
            self.error(-1, UNKNOWN_MESSAGE, "startApi must come first")
            return
        try:
            handler(self, fields)
        except (ValueError, IndexError, ProtocolError) as exc:
            log.warning("bad request %d: %s", msg_id, exc)
            self.error(-1, 320, f"Error reading request: {exc}")


class ApiServer:
    """Serves the API port; `sessions` are the connected clients."""

    def __init__(self, state: State, seed: int = 0) -> None:
        self.state = state
        self.market = Market(seed)
        self.market.frozen = lambda: self.state.faults.freeze_prices
        self.broker = Broker(state, self.market)
        self.on_change: Callable[[], None] = lambda: None  # after orders and fills
        self.sessions: set[ClientSession] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        return self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer)
        self.sessions.add(session)
        # Cancelled when the simulator stops: asyncio's stream callback would log it as an error.
        with contextlib.suppress(asyncio.CancelledError):
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
