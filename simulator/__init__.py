"""A TWS API protocol simulator of IB Gateway that unmodified ib_async clients trade against.

from simulator import Simulator
with Simulator(port=0, control_port=0) as sim:
    ib.connect("127.0.0.1", sim.port, clientId=1)
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from simulator import persist as persistence
from simulator.control import ControlServer
from simulator.server import ApiServer
from simulator.state import State, load

__all__ = ["Simulator", "State"]


class Simulator:
    """The simulator on its own event loop in a background thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: State | Path | None = None,
        seed: int = 0,
        boot_delay: float = 0.0,
        control_port: int | None = None,
        trading_mode: str = "paper",
        persist: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.control_port = control_port
        self.seed = seed
        self.state = state if isinstance(state, State) else load(state, trading_mode)
        if boot_delay:
            self.state.faults.boot_delay = boot_delay
        self.api = ApiServer(self.state, seed)
        if persist is not None:
            path = Path(persist)
            persistence.load(path, self.state, self.api.broker)
            self.api.on_change = lambda: persistence.save(path, self.state, self.api.broker)
        self.control = ControlServer(self.api)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.ready_at: float | None = None  # time.monotonic() when the API port opened

    async def serve(self) -> None:
        """Open the control port, wait the boot delay, then open the API port."""
        if self.control_port is not None:
            self.control_port = await self.control.start(self.host, self.control_port)
        if self.state.faults.boot_delay:
            await asyncio.sleep(self.state.faults.boot_delay)
        self.port = await self.api.start(self.host, self.port)
        self.ready_at = time.monotonic()
        self._ready.set()

    def start(self, wait: bool = True) -> Simulator:
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="simulator", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.serve(), self._loop)
        if wait:
            future.result(timeout=self.state.faults.boot_delay + 10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.api.stop()
            await self.control.stop()

        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """Use the control interface in-process (same routes as over HTTP)."""
        done = threading.Event()
        result: list = []

        def run() -> None:
            result.append(self.control.route(method, path, body or {}))
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)
        return result[0][1]
