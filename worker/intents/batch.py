"""`batch`: several intents in order in one gateway session; the first failure stops it."""

from __future__ import annotations

import dataclasses
from typing import Any

from worker import intent_registry
from worker.exceptions import GatewayError, IntentFailed
from worker.intent_registry import IntentContext, intent


@intent("batch")
def batch(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    """Each step's params were checked on receipt: the batch schema refers to its intent's."""
    steps = params["steps"]
    outcomes: list[dict[str, Any]] = []
    for n, step in enumerate(steps, 1):
        spec = intent_registry.get(step["intent"])
        assert spec is not None  # the schema only names registered intents
        step_ctx = dataclasses.replace(ctx, id=step_id(ctx.id, n), intent=step["intent"])
        ctx.audit("step started", {"step": n, "intent": step["intent"]})
        try:
            output = spec.run(step_ctx, step.get("params") or {})
        except (IntentFailed, ConnectionError, TimeoutError) as exc:
            failure = exc if isinstance(exc, IntentFailed) else _lost(exc)
            outcomes.append(
                {
                    "step": n,
                    "intent": step["intent"],
                    "status": "failed",
                    "error": {"code": failure.code, "message": str(failure)},
                    "result": failure.result,
                }
            )
            # A gateway failure stays one, so the runner restarts the gateway.
            kind = GatewayError if isinstance(failure, GatewayError) else IntentFailed
            stopped = kind(
                failure.code,
                f"step {n} ({step['intent']}) failed: {failure}",
                retryable=failure.retryable,
            )
            stopped.result = {"steps": outcomes}
            raise stopped from exc
        outcomes.append(
            {"step": n, "intent": step["intent"], "status": "succeeded", "result": output}
        )
    return {"steps": outcomes}


def step_id(batch_id: str, n: int) -> str:
    """The id a step's orders carry in their orderRef: the batch id and the step number, joined
    by `#`, which no message id may contain, so no other intent can have it."""
    return f"{batch_id}#s{n}"


def _lost(exc: Exception) -> GatewayError:
    return GatewayError(
        "ib-disconnected", f"the gateway connection was lost: {exc.__class__.__name__}: {exc}"
    )
