"""What a request handler sees of a connected client and of the server it is connected to.

Handlers are typed against these protocols, not against `server.ClientSession` and
`server.ApiServer`, so the server can import its handler table without an import circle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Protocol

from simulator.broker import Broker
from simulator.market import Market
from simulator.state import State


class Server(Protocol):
    state: State
    market: Market
    broker: Broker
    on_change: Callable[[], None]

    @property
    def sessions(self) -> Collection[Session]: ...

    def drop_all(self) -> int: ...


class Session(Protocol):
    writer: asyncio.StreamWriter
    client_id: int | None
    account_updates: bool
    position_updates: bool
    market_data_type: int
    streams: dict[int, asyncio.Task[None]]

    @property
    def server(self) -> Server: ...

    @property
    def state(self) -> State: ...

    def send(self, *fields: object) -> None: ...

    def error(self, req_id: int, code: int, text: str) -> None: ...


Handler = Callable[[Session, list[str]], None]
