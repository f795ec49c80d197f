"""The one order path: every order-placing intent hands its OrderPlan to `OrderDesk.execute`,
which checks the risk limits, cancels what the plan cancels, and sends each order once however
often the intent is delivered (an order whose `orderRef` the broker already has is not sent
again), then books the outcomes into the holdings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.exceptions import GatewayError, IntentFailed
from worker.gateway.connect import ErrorLog, ensure_connected
from worker.registry import IntentContext
from worker.trading.holdings import Holdings, book, open_order
from worker.trading.market import ib_quantity
from worker.trading.order_plan import OrderPlan, OrderRequest, scale
from worker.trading.risk import RiskLimits, check_limits

log = logging.getLogger("worker.trading")
SETTLE_SECONDS = 10.0
REFUSED = (200, 201, 321)  # IB refused the order: nothing went out
CANCEL_SECONDS = 5.0
DONE = ("Cancelled", "ApiCancelled", "Filled", "Inactive")


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


class OrderDesk:
    """Sends an intent's orders once, however often the intent is delivered.

    `config` is the trading config (risk limits, the Adaptive algo's priority); `properties`
    the message's `orderProperties` (tif, goodAfterTime, orderType)."""

    def __init__(
        self,
        ctx: IntentContext,
        ib: Any,
        config: dict[str, Any],
        properties: dict[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self.ib = ib
        self.limits = RiskLimits.from_config(config)
        self.algo_priority = config.get("adaptivePriority", "Normal")
        self.properties = properties or {}

    def execute(self, plan: OrderPlan, *, dry_run: bool) -> dict[str, Any]:
        """The intent's result: the plan as described, or (not a dry run) with what happened to
        each order once the limits are checked and the plan's cancels went through."""
        result = plan.describe(dry_run)
        if dry_run:
            return result
        check_limits(plan.orders, self.limits, self.ctx.placed)
        self.guard()
        self._cancel(plan.cancel or [], result)
        return {**result, "orders": self.place(plan.orders)}

    def _cancel(self, trades: list[Any], result: dict[str, Any]) -> None:
        """Cancel working orders and wait until none can fill any more; fail before any order
        goes out if one keeps working (flattening while it can still fill could overshoot).
        Their openOrders records stay: trade-reconciliation books what filled before the cancel.
        """
        if not trades:
            return
        for trade in trades:
            self.ib.cancelOrder(trade.order)
        deadline = time.monotonic() + CANCEL_SECONDS
        while (working := _still_working(trades)) and time.monotonic() < deadline:
            self.ib.sleep(0.1)
        if working:
            refs = ", ".join(t.order.orderRef or str(t.order.orderId) for t in working)
            raise IntentFailed(
                "cancel-failed",
                f"could not cancel {refs} (placed by another client id?); cancel them in TWS, "
                "then run the intent again. No order was placed.",
                result=result,
            )

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
                found.quantity = max(found.quantity, ib_quantity(t.order.totalQuantity))
                found.filled = max(found.filled, ib_quantity(t.order.filledQuantity))
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


def _still_working(trades: list[Any]) -> list[Any]:
    return [t for t in trades if t.orderStatus.status not in DONE]
