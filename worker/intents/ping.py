"""`ping`: prove that a message reaches the worker and a result comes back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from worker.gateway.restarts import GatewayCalendar
from worker.intent_registry import IntentContext, intent


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
        if ctx.settings.gateway_mode == "external":  # an always-on gateway and its calendar
            result["gateway"].update(calendar_report(ctx.settings.gateway_calendar, _now()))
    return result


def _now() -> datetime:
    return datetime.now(UTC)


def calendar_report(calendar: GatewayCalendar, now: datetime) -> dict[str, Any]:
    """The session's age (since IBC last logged in: the last daily restart, or the weekly
    closedown's fresh login if that came later), the next restart, when IB's weekly token expires
    (`weeklyApprovalDue`) and when the weekly closedown's login sends the push to approve
    (`weeklyClosedown`, GATEWAY_WEEKLY_CLOSEDOWN)."""
    since = max(calendar.last_restart(now), calendar.last_closedown(now))
    return {
        "sessionSince": since.astimezone(UTC).isoformat(),
        "sessionAgeSeconds": int((now - since).total_seconds()),
        "nextRestart": calendar.next_restart(now).astimezone(UTC).isoformat(),
        "weeklyApprovalDue": calendar.next_approval(now).astimezone(UTC).isoformat(),
        "weeklyClosedown": calendar.next_closedown(now).astimezone(UTC).isoformat(),
    }
