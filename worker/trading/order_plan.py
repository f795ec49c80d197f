"""What an order-placing intent decides before anything is sent: its orders (OrderRequest) and
what it reports (OrderPlan). Pure data, so plans are unit-tested without a gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def order_ref(intent_id: str, step: str, leg: str) -> str:
    """`{intent id}:{step}:{leg}`: the key that makes an order idempotent across redeliveries."""
    return f"{intent_id}:{step}:{leg}"


def placed_by(ref: str) -> str | None:
    """The intent id in an orderRef of ours. An id may itself contain `:` (`rebal:2`), steps
    and legs never do, so the id is what comes before the last two parts, and an intent's own
    orders are those whose id is exactly its own, never those whose orderRef merely starts
    with it (`rebal` must not take `rebal:2`'s orders for its own)."""
    parts = ref.rsplit(":", 2)
    return parts[0] if len(parts) == 3 and all(parts) else None


@dataclass
class OrderRequest:
    """One order to send: what, how many, at about what price, and for which strategies."""

    contract: Any  # ib_async.Contract, qualified
    action: str  # BUY or SELL
    quantity: float
    order_ref: str
    price: float = 0.0  # in the base currency, for the notional risk checks
    multiplier: float = 1.0
    sources: dict[str, float] = field(default_factory=dict)  # strategy -> signed quantity
    order_type: str = "MKT"  # as IB is sent it (worker.trading.order_types)
    limit: float | None = None  # LMT/LOC: the limit price, in the instrument's currency
    fx: float = 1.0  # the instrument's currency in the base currency

    @property
    def notional(self) -> float:
        """In the base currency, for the risk limits: a buy with a limit at its limit (the most
        it pays); a sell fills at or above its limit, so at the higher of limit and price."""
        price = self.price
        if self.limit is not None:
            at_limit = self.limit * self.fx
            price = at_limit if self.action == "BUY" else max(at_limit, self.price)
        return abs(self.quantity) * price * self.multiplier

    @property
    def symbol(self) -> str:
        return str(self.contract.localSymbol or self.contract.symbol)

    def planned(self) -> dict[str, Any]:
        """How a dry run reports the order."""
        return {
            "orderRef": self.order_ref,
            "symbol": self.symbol,
            "action": self.action,
            "quantity": self.quantity,
            "sources": self.sources,
            "orderType": self.order_type,
            **({"limitPrice": self.limit} if self.limit is not None else {}),
        }

    def outcome(self, **broker: Any) -> dict[str, Any]:
        """What happened to the order: the plan with the broker's side on top (status, filled,
        orderId, permId, and a quantity and sources of its own when they differ)."""
        return {**self.planned(), "conId": self.contract.conId, **broker}


@dataclass
class OrderPlan:
    """An intent's orders and what it found while deciding them (`report`: signals, targets,
    balances, ...). `cancel` lists working orders (ib_async Trades) to cancel before any order
    goes out."""

    orders: list[OrderRequest]
    report: dict[str, Any] = field(default_factory=dict)
    cancel: list[Any] | None = None

    def describe(self, dry_run: bool) -> dict[str, Any]:
        """The intent's result before anything is sent."""
        described = {**self.report, "dryRun": dry_run, "orders": [r.planned() for r in self.orders]}
        if self.cancel is not None:
            described["cancel"] = [
                {"orderId": t.order.orderId, "orderRef": t.order.orderRef} for t in self.cancel
            ]
        return described


def scale(sources: dict[str, float], factor: float) -> dict[str, float]:
    """Per-strategy quantities times `factor`, in whole units that add up to the scaled total."""
    if factor == 1 or not sources:
        return dict(sources)
    total = round(sum(sources.values()) * factor)
    scaled = {name: float(round(q * factor)) for name, q in sources.items()}
    largest = max(scaled, key=lambda name: abs(scaled[name]))
    scaled[largest] += total - sum(scaled.values())
    return scaled
