"""`batch`: several intents in order in one gateway session; the first failure stops it."""

from __future__ import annotations

import dataclasses
from typing import Any

from worker import registry
from worker.registry import IntentContext, IntentFailed, intent


@intent("batch")
def batch(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    """Each step's params were checked on receipt (`contract.validate`)."""
    steps = params["steps"]
    outcomes: list[dict[str, Any]] = []
    for n, step in enumerate(steps, 1):
        spec = registry.get(step["intent"])
        assert spec is not None  # the schema only names registered intents
        # Each step's orders carry the batch id and the step number in their orderRef.
        step_ctx = dataclasses.replace(ctx, id=f"{ctx.id}:s{n}", intent=step["intent"])
        ctx.audit("step started", {"step": n, "intent": step["intent"]})
        try:
            output = spec.run(step_ctx, step.get("params") or {})
        except IntentFailed as exc:
            outcomes.append(
                {
                    "step": n,
                    "intent": step["intent"],
                    "status": "failed",
                    "error": {"code": exc.code, "message": str(exc)},
                    "result": exc.result,
                }
            )
            raise IntentFailed(
                exc.code,
                f"step {n} ({step['intent']}) failed: {exc}",
                retryable=exc.retryable,
                result={"steps": outcomes},
            ) from exc
        outcomes.append(
            {"step": n, "intent": step["intent"], "status": "succeeded", "result": output}
        )
    return {"steps": outcomes}
