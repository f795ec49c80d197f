"""Idempotent orders: every order's `orderRef` starts with the intent id, and an order whose
`orderRef` is already among the open orders or today's executions is never placed again."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker.exceptions import GatewayError, IntentFailed
from worker.gateway.connect import ErrorLog, ensure_connected
from worker.registry import IntentContext
from worker.trading.config import RiskLimits
from worker.trading.holdings import Holdings, book, open_order

log = logging.getLogger("worker.trading")
SETTLE_SECONDS = 10.0
REFUSED = (200, 201, 321)  # IB refused the order: nothing went out


@dataclass
class OrderRequest:
    """One order to send: what, how many, at about what price, and for which strategies."""

    contract: Any  # ib_async.Contract, qualified
    action: str  # BUY or SELL
    quantity: float
    order_ref: str
    price: float = 0.0  # for the notional risk checks
    multiplier: float = 1.0
    sources: dict[str, float] = field(default_factory=dict)  # strategy -> signed quantity

    @property
    def notional(self) -> float:
        return abs(self.quantity) * self.price * self.multiplier

    @property
    def symbol(self) -> str:
        return self.contract.localSymbol or self.contract.symbol

    def planned(self) -> dict[str, Any]:
        """How a dry run reports the order."""
        return {
            "orderRef": self.order_ref,
            "symbol": self.symbol,
            "action": self.action,
            "quantity": self.quantity,
            "sources": self.sources,
        }

    def outcome(self, **broker: Any) -> dict[str, Any]:
        """What happened to the order: the plan with the broker's side on top (status, filled,
        orderId, permId, and a quantity and sources of its own when they differ)."""
        return {**self.planned(), "conId": self.contract.conId, **broker}


@dataclass
class Sent:
    """An order an earlier attempt placed, as the broker knows it."""

    order_id: int
    perm_id: int
    quantity: float
    filled: float = 0.0
    is_open: bool = False

    def outcome(self, request: OrderRequest) -> dict[str, Any]:
        """The request's outcome told from the broker's side: its real size and its sources
        scaled to that size (the request was recomputed at today's prices)."""
        status = "Filled" if self.filled >= self.quantity else "Submitted"
        if not self.is_open and self.filled < self.quantity:
            status = "Cancelled"
        return request.outcome(
            quantity=self.quantity,
            sources=scale(request.sources, self.quantity / request.quantity),
            status=status,
            filled=self.filled,
            permId=self.perm_id,
            orderId=self.order_id,
            placedBefore=True,
        )


def quantity(value: Any) -> float:
    """A quantity from IB, where unset arrives as a huge sentinel (or NaN): then 0."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return number if 0 <= number < 1e30 else 0.0


def scale(sources: dict[str, float], factor: float) -> dict[str, float]:
    """Per-strategy quantities times `factor`, in whole units that add up to the scaled total."""
    if factor == 1 or not sources:
        return dict(sources)
    total = round(sum(sources.values()) * factor)
    scaled = {name: float(round(q * factor)) for name, q in sources.items()}
    largest = max(scaled, key=lambda name: abs(scaled[name]))
    scaled[largest] += total - sum(scaled.values())
    return scaled


def order_ref(intent_id: str, step: str, leg: str) -> str:
    return f"{intent_id}:{step}:{leg}"


def check_limits(
    requests: list[OrderRequest], limits: RiskLimits, earlier: Sequence[OrderRequest] = ()
) -> None:
    """Fail (not retryable) before anything is sent when a limit would be breached; `earlier`
    orders of the same intent (a batch's previous steps) count towards the per-intent limits."""

    def breach(message: str) -> IntentFailed:
        return IntentFailed("risk-limit", message, retryable=False)

    before = f" (with {len(earlier)} of earlier steps)" if earlier else ""
    requests = [*earlier, *requests]

    if limits.max_orders_per_intent is not None and len(requests) > limits.max_orders_per_intent:
        raise breach(
            f"{len(requests)} orders{before} exceed maxOrdersPerIntent "
            f"{limits.max_orders_per_intent}"
        )
    for r in requests:
        if limits.allowed_instruments is not None and r.contract.symbol not in (
            limits.allowed_instruments
        ):
            raise breach(f"{r.symbol} is not in allowedInstruments")
        if limits.max_notional_per_order is not None and r.notional > limits.max_notional_per_order:
            raise breach(
                f"{r.action} {r.quantity:g} {r.symbol} is {r.notional:,.0f} notional, "
                f"over maxNotionalPerOrder {limits.max_notional_per_order:,.0f}"
            )
    total = sum(r.notional for r in requests)
    if limits.max_notional_per_intent is not None and total > limits.max_notional_per_intent:
        raise breach(
            f"{total:,.0f} notional{before} exceeds maxNotionalPerIntent "
            f"{limits.max_notional_per_intent:,.0f}"
        )


class OrderDesk:
    """Sends an intent's orders once, however often the intent is delivered."""

    def __init__(
        self,
        ctx: IntentContext,
        ib: Any,
        properties: dict[str, Any] | None = None,
        algo_priority: str = "Normal",
    ) -> None:
        self.ctx = ctx
        self.ib = ib
        self.properties = properties or {}
        self.algo_priority = algo_priority

    def guard(self) -> None:
        if self.ctx.trading_mode == "live" and not self.ctx.explicit_mode:
            raise IntentFailed(
                "live-guard",
                "a live worker places orders only for messages that "
                'say "tradingMode": "live" explicitly',
                retryable=False,
            )

    def already_sent(self) -> dict[str, Sent]:
        """This intent's orders among open orders, today's executions and completed orders
        (cancelled ones too: an order that went out once never goes out again), by orderRef."""
        import ib_async

        today = datetime.now(UTC).strftime("%Y%m%d-00:00:00")
        mine = f"{self.ctx.id}:"
        sent: dict[str, Sent] = {}
        for t in self.ib.reqAllOpenOrders():
            if t.order.orderRef.startswith(mine):
                sent[t.order.orderRef] = Sent(
                    t.order.orderId, t.order.permId, float(t.order.totalQuantity), is_open=True
                )
        for fill in self.ib.reqExecutions(ib_async.ExecutionFilter(time=today)):
            e = fill.execution
            if e.orderRef.startswith(mine):
                found = sent.setdefault(e.orderRef, Sent(e.orderId, e.permId, 0.0))
                found.filled += e.shares
        for t in self.ib.reqCompletedOrders(apiOnly=False):
            if not t.order.orderRef.startswith(mine):
                continue
            found = sent.setdefault(t.order.orderRef, Sent(t.order.orderId, t.order.permId, 0.0))
            if not found.is_open:
                found.quantity = max(found.quantity, quantity(t.order.totalQuantity))
                found.filled = max(found.filled, quantity(t.order.filledQuantity))
        for found in sent.values():
            found.quantity = max(found.quantity, found.filled)
        return sent

    def place(self, requests: list[OrderRequest]) -> list[dict[str, Any]]:
        """Place what was not placed before and book the outcomes into the holdings; returns
        what happened to each order. Each order is written to openOrders before it goes out,
        so one that went out before a failure is still reconciled."""
        self.guard()
        holdings = Holdings(self.ctx.db, self.ctx.trading_mode)
        owner = self.ctx.record_id or self.ctx.id
        sent = self.already_sent()
        outcomes: list[dict[str, Any]] = []
        try:
            for request in requests:
                self.ctx.placed.append(request)
                before = sent.get(request.order_ref)
                if before is not None:
                    log.info(
                        "order %s was placed by an earlier attempt; not again", request.order_ref
                    )
                    outcomes.append(before.outcome(request))
                else:
                    outcomes.append(self._send(request, holdings, owner))
        finally:
            if outcomes:
                book(holdings, owner, outcomes)
        return outcomes

    def _send(self, request: OrderRequest, holdings: Holdings, owner: str) -> dict[str, Any]:
        """Send one order and wait for it to settle; its outcome."""
        import ib_async

        ensure_connected(self.ib)
        order = self._order(ib_async, request)
        pending = request.outcome(status="PendingSubmit", filled=0.0, orderId=None, permId=None)
        holdings.record(open_order(pending, owner))
        errors = ErrorLog()
        self.ib.errorEvent += errors
        try:
            trade = self.ib.placeOrder(request.contract, order)
            self.ctx.audit(
                "order placed",
                {
                    "orderRef": request.order_ref,
                    "symbol": request.symbol,
                    "action": request.action,
                    "quantity": request.quantity,
                    "orderId": trade.order.orderId,
                },
            )
            self._settle(trade)
        finally:
            self.ib.errorEvent -= errors
        if any(code in REFUSED for code, _ in errors.seen):
            holdings.drop_open_order(request.order_ref)  # it never went out
        self._raise_for(errors.seen, request)
        for fill in trade.fills:
            self.ctx.audit(
                "fill",
                {
                    "orderRef": request.order_ref,
                    "execId": fill.execution.execId,
                    "shares": fill.execution.shares,
                    "price": fill.execution.price,
                },
            )
        return request.outcome(
            status=trade.orderStatus.status,
            filled=trade.orderStatus.filled,
            avgFillPrice=trade.orderStatus.avgFillPrice,
            permId=trade.order.permId,
            orderId=trade.order.orderId,
        )

    def _order(self, ib_async: Any, request: OrderRequest) -> Any:
        kind = self.properties.get("orderType", "MKT")
        if kind != "MKT":
            raise IntentFailed("bad-params", f"order type {kind} is not supported (MKT)")
        order = ib_async.MarketOrder(
            request.action,
            abs(request.quantity),
            orderRef=request.order_ref,
            tif=self.properties.get("tif", "DAY"),
        )
        if self.properties.get("goodAfterTime"):
            order.goodAfterTime = self.properties["goodAfterTime"]
        if request.contract.secType != "CASH":
            order.algoStrategy = "Adaptive"
            order.algoParams = [ib_async.TagValue("adaptivePriority", self.algo_priority)]
        return order

    def _settle(self, trade: Any) -> None:
        deadline = time.monotonic() + SETTLE_SECONDS
        while trade.orderStatus.status in ("PendingSubmit", "ApiPending") and (
            time.monotonic() < deadline
        ):
            self.ib.sleep(0.05)
        self.ib.sleep(0.05)  # executions and commissions follow the status

    @staticmethod
    def _raise_for(errors: list[tuple[int, str]], request: OrderRequest) -> None:
        for code, message in errors:
            if code == 321:
                raise GatewayError(
                    "ib-321",
                    "the API is read-only: set ReadOnlyApi=no in IBC's "
                    "config.ini (or uncheck 'Read-Only API' in the gateway)",
                    retryable=False,
                )
            if code == 201:
                raise IntentFailed(
                    "broker-rejected",
                    f"IB rejected {request.action} "
                    f"{request.quantity:g} {request.symbol}: {message}",
                )
            if code == 200:
                raise IntentFailed(
                    "unknown-contract", f"the gateway does not know {request.symbol}: {message}"
                )
