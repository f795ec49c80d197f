"""`ping`: prove that a message reaches the worker and a result comes back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from worker.registry import IntentContext, intent


def _without_gateway(params: dict[str, Any]) -> bool:
    return not params.get("gateway")


# Without `gateway` a ping touches nothing: it runs before its record is written (no claim).
@intent("ping", side_effect_free=_without_gateway)
def ping(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    """The worker's identity, trading mode and clock; with `gateway`, the session's too."""
    result: dict[str, Any] = {
        "pong": True,
        **ctx.settings.worker_info,
        "tradingMode": ctx.trading_mode,
        "time": datetime.now(UTC).isoformat(),
        "attempt": ctx.attempt,
    }
    if params.get("gateway"):
        ib = ctx.ib()
        result["gateway"] = {
            "mode": ctx.settings.gateway_mode,
            "accounts": ib.managedAccounts(),
            "serverVersion": ib.client.serverVersion(),
            "time": ib.reqCurrentTime().isoformat(),
        }
    return result
