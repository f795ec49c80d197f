"""The control interface: a small HTTP/JSON server to inspect state and inject faults.

GET  /state                 broker-side state (account, cash, positions, faults) as JSON
POST /faults                set faults, e.g. {"hang_handshake": 5, "read_only": true}
POST /faults/reset          clear every fault
POST /clock                 set the simulator's clock, {"now": "2026-12-25T15:45:00-05:00"}
POST /drop                  drop every API connection now
POST /error                 {"code": 2104, "message": "..."} sends that error to every client
POST /connectivity          {"lost": true} sends 1100; {"restored": true} sends 1102,
                            {"restored": true, "data_lost": true} sends 1101
POST /competing-session     sends 10197 to every client
POST /trade                 {"conId": 756733, "quantity": -16} fills a trade made outside the API
                            (as in TWS: client 0, no orderRef) and sends the new position and
                            account values to every client that subscribed to them
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from simulator import clock, messages, persist
from simulator.broker import Order, OrderError
from simulator.order_handlers import publish_fill
from simulator.replies import send_account, send_position
from simulator.server import ApiServer
from simulator.state import Faults, fault_problem

log = logging.getLogger("simulator")


class ControlServer:
    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        return self._server.sockets[0].getsockname()[1]

    def _close_orders(self) -> None:
        """MOC/LOC orders whose close the clock passed: their fills, or their cancels."""
        for order, execution in self.api.broker.at_close():
            owner = next((o for o in self.api.sessions if o.client_id == order.clientId), None)
            if owner is None:
                continue
            if execution is not None:
                publish_fill(owner, order, execution)
            else:
                owner.send(*messages.order_status(order))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            lines = head.decode(errors="replace").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = next(
                (
                    int(h.split(":", 1)[1])
                    for h in lines[1:]
                    if h.lower().startswith("content-length:")
                ),
                0,
            )
            body = await reader.readexactly(length) if length else b""
            status, answer = self.route(method, path, json.loads(body) if body else {})
        except (
            TimeoutError,
            ValueError,
            TypeError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            status, answer = 400, {"error": str(exc)}
        payload = json.dumps(answer).encode()
        writer.write(
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        writer.close()

    def route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.api.state
        if method == "GET" and path == "/state":
            return 200, {**state.to_json(), **persist.broker_json(self.api.broker)}
        if method != "POST":
            return 404, {"error": f"no route {method} {path}"}
        if path == "/faults":
            problem = fault_problem(body)
            if problem:
                return 400, {"error": problem}
            for key, value in body.items():
                setattr(state.faults, key, value)
            log.info("faults set: %s", body)
            return 200, {"faults": state.to_json()["faults"]}
        if path == "/clock":
            try:
                clock.set_now(state, clock.parse(body.get("now")))
            except ValueError as exc:
                return 400, {"error": f"now: {exc}"}
            log.info("clock set to %s", body["now"])
            for order, execution in self.api.broker.release():
                owner = next((o for o in self.api.sessions if o.client_id == order.clientId), None)
                if owner is not None:
                    publish_fill(owner, order, execution)
            self._close_orders()
            self.api.on_change()
            return 200, {"now": clock.now(state).isoformat()}
        if path == "/faults/reset":
            state.faults = Faults()
            return 200, {"faults": state.to_json()["faults"]}
        if path == "/drop":
            return 200, {"dropped": self.api.drop_all()}
        if path == "/error":
            code, message = body.get("code"), body.get("message", "")
            if not isinstance(code, int) or not isinstance(message, str):
                return 400, {"error": 'expected {"code": int, "message": str}'}
            self.api.broadcast_error(code, message)
            return 200, {"sent": code}
        if path == "/connectivity":
            if body.get("lost"):
                self.api.broadcast_error(1100, "Connectivity between IB and TWS has been lost.")
                return 200, {"sent": 1100}
            if body.get("data_lost"):
                self.api.broadcast_error(
                    1101, "Connectivity between IB and TWS has been restored - data lost."
                )
                return 200, {"sent": 1101}
            self.api.broadcast_error(
                1102, "Connectivity between IB and TWS has been restored - data maintained."
            )
            return 200, {"sent": 1102}
        if path == "/competing-session":
            self.api.broadcast_error(10197, "No market data during competing live session")
            return 200, {"sent": 10197}
        if path == "/trade":
            return self.trade(body)
        return 404, {"error": f"no route {method} {path}"}

    def trade(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A market order placed outside the API (client 0, as a TWS user's), filled now."""
        con_id, quantity = body.get("conId"), body.get("quantity")
        if (
            not isinstance(con_id, int)
            or isinstance(con_id, bool)
            or not isinstance(quantity, int | float)
            or isinstance(quantity, bool)
            or not quantity
            or not math.isfinite(quantity)
        ):
            return 400, {"error": 'expected {"conId": int, "quantity": non-zero number}'}
        instrument = self.api.state.instrument(con_id)
        if instrument is None:
            return 404, {"error": f"no instrument with conId {con_id}"}
        order = Order(
            orderId=self.api.state.next_order_id,
            clientId=0,
            permId=0,
            instrument=instrument,
            action="BUY" if quantity > 0 else "SELL",
            totalQuantity=abs(float(quantity)),
            orderType="MKT",
        )
        try:
            self.api.broker.place(order)
        except OrderError as exc:
            return 400, {"error": str(exc), "code": exc.code}
        self.api.on_change()
        for session in list(self.api.sessions):
            if session.position_updates:
                send_position(session, con_id)
            if session.account_updates:
                send_account(session)
        log.info("trade outside the API: %s %g conId %d", order.action, abs(quantity), con_id)
        return 200, {"status": order.status, "filled": order.filled, "permId": order.permId}
