"""Order requests: placeOrder, cancelOrder, open and completed orders, executions."""

from __future__ import annotations

import asyncio
import logging

from simulator import messages
from simulator.broker import Execution, Order, OrderError
from simulator.catalogue import RefusedContract, find_one
from simulator.margin import what_if
from simulator.orders import Fields, parse_place_order
from simulator.protocol import Out
from simulator.replies import send_account, send_position
from simulator.session import Session

log = logging.getLogger("simulator")


def publish_fill(s: Session, order: Order, execution: Execution) -> None:
    owner = next((o for o in s.server.sessions if o.client_id == order.clientId), s)
    owner.send(*messages.exec_details(-1, execution))
    owner.send(*messages.order_status(order))
    owner.send(*messages.open_order(order))
    owner.send(*messages.commission_report(execution))
    for session in list(s.server.sessions):
        if session.position_updates:
            send_position(session, order.instrument.conId)
        if session.account_updates:
            send_account(session)


def place_order(s: Session, fields: list[str]) -> None:
    faults = s.state.faults
    parsed = parse_place_order(fields)
    order_id = parsed["orderId"]
    if faults.read_only:
        s.error(
            order_id,
            321,
            "Error validating request.-'bN' : cause - The API interface is "
            "currently in Read-Only mode.",
        )
        return
    if not parsed["whatIf"] and _order_fault(s, order_id):
        return
    try:
        instrument = find_one(s.state, parsed["contract"])
    except RefusedContract as exc:
        s.error(order_id, exc.code, exc.message)
        return
    order = Order(
        orderId=order_id,
        clientId=s.client_id or 0,
        permId=0,
        instrument=instrument,
        **{
            k: parsed[k]
            for k in (
                "action",
                "totalQuantity",
                "orderType",
                "lmtPrice",
                "tif",
                "orderRef",
                "goodAfterTime",
                "account",
                "algoStrategy",
                "algoParams",
            )
        },
    )
    if parsed["whatIf"]:
        _what_if(s, order)
        return
    executions = s.server.broker.executions
    before = len(executions)
    try:
        s.server.broker.place(order)
    except OrderError as exc:
        s.error(order_id, exc.code, str(exc))
        return
    s.server.on_change()
    s.send(*messages.open_order(order))
    s.send(*messages.order_status(order))
    for execution in executions[before:]:
        publish_fill(s, order, execution)
    if faults.stall_after_orders is not None:
        faults.stall_after_orders -= 1
        if faults.stall_after_orders <= 0:
            faults.stall_after_orders = None
            log.info("fault: no more answers after order %d", order_id)
            faults.response_delay = 3600.0
    if faults.drop_after_orders is not None:
        faults.drop_after_orders -= 1
        if faults.drop_after_orders <= 0:
            faults.drop_after_orders = None
            log.info("fault: dropping every connection after order %d", order_id)
            asyncio.get_running_loop().call_later(0.05, s.server.drop_all)


def _order_fault(s: Session, order_id: int) -> bool:
    """Apply a fault that acts on the next order; True when it answered the order."""
    faults = s.state.faults
    if faults.drop_on_next_order:
        faults.drop_on_next_order = False
        log.info("fault: dropping every connection on order %d", order_id)
        s.server.drop_all()
        return True
    if faults.reject_next_order:
        reason, faults.reject_next_order = faults.reject_next_order, None
        s.error(order_id, 201, f"Order rejected - reason:{reason}")
        return True
    return False


def _what_if(s: Session, order: Order) -> None:
    """IB's answer to a whatIf order: one openOrder with the margin and commission it would
    cost; nothing is placed or kept."""
    try:
        result = what_if(s.state, s.server.market, order)
    except OrderError as exc:
        s.error(order.orderId, exc.code, str(exc))
        return
    order.account = order.account or s.state.account
    order.status = "PreSubmitted"
    s.send(*messages.open_order(order, result))


def cancel_order(s: Session, fields: list[str]) -> None:
    order_id = int(fields[2])
    try:
        order = s.server.broker.cancel(s.client_id or 0, order_id)
    except OrderError as exc:
        s.error(order_id, exc.code, str(exc))
        return
    s.server.on_change()
    s.send(*messages.order_status(order))
    s.error(order_id, 202, "Order Canceled - reason:")


def _open_orders(s: Session, client_id: int | None) -> None:
    for order in s.server.broker.working(client_id):
        s.send(*messages.open_order(order))
        s.send(*messages.order_status(order))
    s.send(Out.OPEN_ORDER_END, 1)


def open_orders(s: Session, fields: list[str]) -> None:
    _open_orders(s, None if s.client_id == 0 else s.client_id)


def all_open_orders(s: Session, fields: list[str]) -> None:
    _open_orders(s, None)


def completed_orders(s: Session, fields: list[str]) -> None:
    for order in s.server.broker.completed():
        s.send(*messages.completed_order(order, order.completedTime))
    s.send(Out.COMPLETED_ORDERS_END)


def executions(s: Session, fields: list[str]) -> None:
    f = Fields(fields, start=2)
    req_id = int(f.next())
    client_id, account, since, symbol, sec_type, exchange, side = (f.next() for _ in range(7))
    for e in s.server.broker.executions:
        if (
            (client_id not in ("", "0") and str(e.clientId) != client_id)
            or (account and e.account != account)
            or (symbol and e.instrument.symbol != symbol)
            or (sec_type and e.instrument.secType != sec_type)
            or (exchange and e.instrument.exchange != exchange)
            or (side and e.side != {"BUY": "BOT", "SELL": "SLD"}.get(side, side))
            or (since and e.time.strftime("%Y%m%d-%H:%M:%S") < since.replace(" ", "-")[:17])
        ):
            continue
        s.send(*messages.exec_details(req_id, e))
        s.send(*messages.commission_report(e))
    s.send(Out.EXECUTION_DATA_END, 1, req_id)
