"""The one order path: every order-placing intent hands its OrderPlan to `OrderDesk.execute`,
which checks the risk limits, cancels what the plan cancels, and sends each order once however
often the intent is delivered (an order whose `orderRef` the broker already has is not sent
again; one an earlier attempt sent that the plan no longer has is reported and booked), counts an
order as sent only once the gateway acknowledged it, then books the outcomes into the holdings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from typing import Any

from worker.exceptions import GatewayError, IntentFailed
from worker.gateway.connect import ErrorLog, ensure_connected
from worker.intent_registry import IntentContext
from worker.trading import broker_orders, limit_orders, market, market_hours, order_types, what_if
from worker.trading.config import require_risk_limits
from worker.trading.earlier import Sent, sent_before
from worker.trading.holdings import Holdings, book, open_order
from worker.trading.order_plan import OrderPlan, OrderRequest, placed_by
from worker.trading.order_refusals import fail_if_cut_short, raise_for
from worker.trading.price_age import PricePolicy
from worker.trading.risk import RiskLimits, check_limits

log = logging.getLogger("worker.trading")
ACK_SECONDS = 10.0  # an order the gateway has not acknowledged by then fails the attempt
REFUSED = (200, 201, 321)  # IB refused the order: nothing went out
WHAT_IF_SECONDS = 10.0
UNANSWERED = ("PendingSubmit", "ApiPending", "")
LATE = (
    "sent by an earlier attempt, never acknowledged and not known to the broker: counted as "
    "working until trade-reconciliation closes it (config.unacknowledgedOrderGraceSeconds)"
)
QUEUED = (
    "held by IB for the open (whenClosed queue): the unfilled policy does not apply; it works "
    "as a DAY order"
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
        when_closed: market_hours.WhenClosed = "skip",
    ) -> None:
        self.ctx = ctx
        self.when_closed = when_closed
        self.ib = ib
        self.config = config
        self.limits = RiskLimits.from_config(config)
        self.algo_priority = config.get("adaptivePriority", "Normal")
        self.properties = properties or {}
        self.spec = order_types.parse(self.properties)
        self.close_rule = order_types.close_rule(config)
        self._queued: dict[str, Any] = {}

    def execute(self, plan: OrderPlan, *, dry_run: bool) -> dict[str, Any]:
        """The intent's result: the plan as described, or (not a dry run) with what happened to
        each order once the limits are checked and the plan's cancels went through."""
        plan = dataclasses.replace(
            plan, orders=limit_orders.with_type(self.ib, plan.orders, self.spec)
        )
        result = plan.describe(dry_run)
        if not dry_run:
            self.check(plan)  # before anything reaches the gateway
        if (stop := self.closed_result(plan, dry_run)) is not None:
            return stop
        limit_orders.require_limits(plan.orders, self.spec)
        result.update(self._queued)
        if dry_run:
            return self._dry_run(plan, result)
        self._check_floor(plan, result)
        self._cancel(plan.cancel or [], result)
        return {**result, **self.place(plan.orders)}

    def closed_result(self, plan: OrderPlan, dry_run: bool) -> dict[str, Any] | None:
        """Before anything is cancelled or sent, IB's hours for each instrument of the plan:
        with a market closed now, `skip` ends here (the result to return: no order, which
        instruments were closed and when each opens next), `fail` raises `market-closed`, and
        `queue` goes on with DAY orders IB holds for the open (noted in the result); None: go
        on. One closed instrument stops the whole plan: no rebalance half done."""
        self._queued = {}
        if not plan.orders:
            return None
        details = market_hours.details_of(self.ib, [r.contract for r in plan.orders])
        now = market_hours.gateway_now(self.ib)
        closed = market_hours.closed_now(now, details)
        tif = self.properties.get("tif", "DAY")
        stop, self._queued = market_hours.decide(
            closed, self.when_closed, tif, plan.describe(dry_run)
        )
        if self.spec.at_close and stop is None:
            kind = self.spec.order_type
            reason = (
                f"{kind} orders are for today's close; with the market closed "
                f"({', '.join(c.name for c in closed)}) whenClosed queue cannot send them"
                if closed
                else order_types.cutoff_refusal(now, details, kind, *self.close_rule)
            )
            if reason:
                code = "bad-params" if closed else "close-cutoff"
                raise IntentFailed(code, reason, result=plan.describe(dry_run))
        return stop

    def check(self, plan: OrderPlan) -> None:
        """Before anything is cancelled or sent: risk limits configured and kept, live guard."""
        require_risk_limits(self.config)
        check_limits(plan.orders, self.limits, self.ctx.placed)
        self.guard()

    def _dry_run(self, plan: OrderPlan, result: dict[str, Any]) -> dict[str, Any]:
        """What IB says each order would cost, and the plan refused as a real run would be."""
        cost = self.cost(plan.orders)
        if plan.orders:
            result["whatIf"] = cost.describe()
        try:
            check_limits(plan.orders, self.limits, self.ctx.placed)
        except IntentFailed as exc:
            exc.result = result
            raise
        if reason := what_if.floor_breach(cost, self.limits.min_excess_liquidity):
            raise what_if.refuse(reason, result)
        return result

    def _check_floor(self, plan: OrderPlan, result: dict[str, Any]) -> None:
        """With `riskLimits.minExcessLiquidity`, refuse a plan whose new orders (not those an
        earlier attempt sent) would leave less, by IB's whatIf answers."""
        if self.limits.min_excess_liquidity is None:
            return
        sent = sent_before(broker_orders.read(self.ib), self.ctx.id)
        cost = self.cost([r for r in plan.orders if r.order_ref not in sent])
        result["whatIf"] = cost.describe()
        if reason := what_if.floor_breach(cost, self.limits.min_excess_liquidity):
            raise what_if.refuse(reason, result)

    def cost(self, requests: list[OrderRequest]) -> what_if.PlanCost:
        """IB's whatIf answer for each order, with today's excess liquidity."""
        import ib_async

        if not requests:
            return what_if.PlanCost((), None)
        try:
            before, currency = market.account_value(self.ib, "ExcessLiquidity")
        except IntentFailed:
            before, currency = None, ""

        def unnamed(request: OrderRequest) -> Any:
            order = self._order(ib_async, request)
            order.orderRef = ""  # a whatIf is no order of the intent's
            return order

        costs = what_if.ask(self.ib, requests, unnamed, WHAT_IF_SECONDS)
        return what_if.PlanCost(tuple(costs), before, currency)

    def cancel(self, plan: OrderPlan) -> None:
        """Check the plan, then cancel its working orders and wait until none can fill any more
        (for an intent that plans again from what filled before the cancels took effect)."""
        self.check(plan)
        self._cancel(plan.cancel or [], plan.describe(False))

    def _cancel(self, trades: list[Any], result: dict[str, Any]) -> None:
        """Cancel working orders and wait until none can fill any more; fail before any order
        goes out if one keeps working (flattening while it can still fill could overshoot).
        Their openOrders records stay: trade-reconciliation books what filled before the cancel.
        """
        if not trades:
            return
        if working := limit_orders.cancel_and_wait(self.ib, trades):
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

    def place(self, requests: list[OrderRequest]) -> dict[str, Any]:
        """Place what was not placed before and book the outcomes into the holdings: `orders`,
        what happened to each (earlier attempts' orders the plan no longer has included), and
        `unconfirmed`, this intent's recorded orders the broker does not know (yet)."""
        self.guard()
        holdings = Holdings(self.ctx.db, self.ctx.trading_mode)
        owner = self.ctx.record_id or self.ctx.id
        sent = sent_before(broker_orders.read(self.ib), self.ctx.id)
        records = {
            r["orderRef"]: r
            for r in holdings.open_orders().values()
            if placed_by(str(r.get("orderRef") or "")) == self.ctx.id
        }
        planned = {r.order_ref for r in requests}
        fresh: set[str] = set()  # sent by this attempt: the unfilled policy applies to them
        for ref in sorted(sent):  # its acknowledgement (and its `order placed`) may never have come
            self._audit_adopted(sent[ref])
        # Orders an earlier attempt placed that the recomputed plan no longer has come first,
        # so they are booked even when a new order fails.
        outcomes = [sent[ref].alone(records.get(ref)) for ref in sorted(set(sent) - planned)]
        for ref in set(sent) - planned:
            log.info("order %s was placed by an earlier attempt; the plan no longer has it", ref)
        try:
            for request in requests:
                self.ctx.placed.append(request)
                before = sent.get(request.order_ref)
                if before is not None:
                    log.info(
                        "order %s was placed by an earlier attempt; not again", request.order_ref
                    )
                    outcomes.append(before.outcome(request, records.get(request.order_ref)))
                else:
                    outcomes.append(self._send(request, holdings, owner))
                    fresh.add(request.order_ref)
            outcomes = self._settle(requests, outcomes, fresh)
        finally:
            if outcomes:
                book(holdings, owner, outcomes)
        unconfirmed = [
            {**{k: r.get(k) for k in ("orderRef", "symbol", "action", "quantity")}, "note": LATE}
            for ref, r in sorted(records.items())
            if ref not in sent and ref not in planned
        ]
        placed = {"orders": outcomes, **({"unconfirmed": unconfirmed} if unconfirmed else {})}
        fail_if_cut_short(placed, [sent[ref] for ref in sorted(planned & set(sent))])
        return placed

    def _send(self, request: OrderRequest, holdings: Holdings, owner: str) -> dict[str, Any]:
        """Send one order and wait until the gateway acknowledged it; its outcome."""
        import ib_async

        ensure_connected(self.ib)
        order = self._order(ib_async, request)
        pending = request.outcome(status="PendingSubmit", filled=0.0, orderId=None, permId=None)
        self.ctx.check_owner()  # a stale attempt (past its lease) records nothing either
        holdings.record(open_order(pending, owner))
        # Last, right before it goes out: an attempt held up in the write past its lease has
        # been taken over, and the order is the new owner's to send.
        self.ctx.check_owner()
        order.orderId = self.ib.client.getReqId()  # known before it goes out: its errors carry it
        errors = ErrorLog(req_id=order.orderId)
        self.ib.errorEvent += errors
        try:
            trade = self.ib.placeOrder(request.contract, order)
            try:
                acknowledged = self._await_ack(trade, errors)
            except BaseException:
                # The connection went, the deadline came, the instance stops: the order may be
                # out and is left to work (a cancel would leave the intent short of its target);
                # the next attempt finds it by orderRef and adopts it with its fills.
                with contextlib.suppress(Exception):  # the trail is best effort on this path
                    self._audit_order("order placed", request, trade, {"unconfirmed": True})
                raise
        finally:
            self.ib.errorEvent -= errors
        self._audit_order("order placed", request, trade)
        if any(code in REFUSED for code, _ in errors.seen):
            holdings.drop_open_order(request.order_ref)  # it never went out
        raise_for(errors.seen, request)
        if not acknowledged:
            self._unacknowledged(trade, request)
        self.ib.sleep(0.05)  # executions and commissions follow the status
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

    def _await_ack(self, trade: Any, errors: ErrorLog) -> bool:
        """Whether the gateway answered the order (any status beyond PendingSubmit, or a
        refusal) within ACK_SECONDS."""
        deadline = time.monotonic() + ACK_SECONDS
        while trade.orderStatus.status in UNANSWERED and time.monotonic() < deadline:
            if errors.codes() & set(REFUSED):
                return True
            ensure_connected(self.ib)
            self.ib.sleep(0.05)
        return trade.orderStatus.status not in UNANSWERED or bool(errors.codes() & set(REFUSED))

    def _unacknowledged(self, trade: Any, request: OrderRequest) -> None:
        """The order may or may not have reached the broker. A cancel follows it (should the
        gateway process both late, in order), its openOrders record stays, and the attempt fails
        as retryable: the next one looks the orderRef up and sends it only if it never arrived.
        """
        try:
            self.ib.cancelOrder(trade.order)
        except Exception:  # the connection is in an unknown state; the cancel is best effort
            log.warning("could not send a cancel after unacknowledged order %s", request.order_ref)
        self._audit_order("order unacknowledged", request, trade, {"waitedSeconds": ACK_SECONDS})
        raise GatewayError(
            "order-unacknowledged",
            f"the gateway did not acknowledge {request.action} {request.quantity:g} "
            f"{request.symbol} (orderRef {request.order_ref}) within {ACK_SECONDS:g} s; a cancel "
            "was sent after it. The next attempt looks it up by orderRef and sends it only if it "
            "never arrived",
        )

    def _audit_order(
        self, kind: str, request: OrderRequest, trade: Any, extra: dict[str, Any] | None = None
    ) -> None:
        self.ctx.audit(
            kind,
            {
                "orderRef": request.order_ref,
                "symbol": request.symbol,
                "action": request.action,
                "quantity": request.quantity,
                "orderId": trade.order.orderId,
                **(extra or {}),
            },
        )

    def _audit_adopted(self, sent: Sent) -> None:
        """`order adopted`: an order an earlier attempt sent, as this attempt found it at the
        broker (its ids, status and the executions the gateway reports under its orderRef)."""
        fills = [
            {"execId": f.execution.execId, "shares": f.execution.shares, "price": f.execution.price}
            for f in self.ib.fills()
            if f.execution.orderRef == sent.order_ref
        ]
        self.ctx.audit(
            "order adopted",
            {
                "orderRef": sent.order_ref,
                "symbol": sent.symbol,
                "action": sent.action,
                "quantity": sent.quantity,
                "orderId": sent.order_id,
                "permId": sent.perm_id,
                "status": sent.status,
                "filled": sent.filled,
                "fills": fills,
                "attempt": self.ctx.attempt,
            },
        )

    def _order(self, ib_async: Any, request: OrderRequest) -> Any:
        return limit_orders.ib_order(
            ib_async, request, self.spec, self.properties, self.algo_priority
        )

    def _settle(
        self, requests: list[OrderRequest], outcomes: list[dict[str, Any]], fresh: set[str]
    ) -> list[dict[str, Any]]:
        """LMT orders' unfilled remainders, by orderProperties.unfilled (limit_orders.settle).
        Not for orders IB holds for the open (whenClosed queue): the wait would cancel them
        before they could fill; they work as DAY orders."""
        if self._queued and self.spec.unfilled is not None:
            return [{**o, "unfilled": QUEUED} if o["orderRef"] in fresh else o for o in outcomes]
        reprice = limit_orders.repricer(
            self.ib, self.spec, requests, self.check_reprice, PricePolicy.of(self.config)
        )
        return limit_orders.settle(
            self.ib, self.spec, outcomes, fresh, reprice, deadline=self.ctx.deadline
        )

    def check_reprice(self, request: OrderRequest) -> None:
        """A new limit for one of the intent's orders, checked against every risk limit with
        the intent's other orders (a batch's earlier steps included) at their limits; kept as
        the order's limit for the next check. IntentFailed: not repriced."""
        self.ctx.check_owner()  # a reprice is a modification sent to the broker
        placed = self.ctx.placed
        at = next((i for i, r in enumerate(placed) if r.order_ref == request.order_ref), None)
        check_limits([request], self.limits, [r for i, r in enumerate(placed) if i != at])
        if at is not None:
            placed[at] = request
