"""The built-in strategies."""

from __future__ import annotations

from worker.exceptions import IntentFailed
from worker.strategies.registry import StrategyContext, strategy


@strategy("static-weights")
def static_weights(ctx: StrategyContext) -> dict[str, float]:
    """Buy and hold fixed weights, e.g. {SPY: 0.6, TLT: 0.4}: a robo-advisor in one line."""
    weights = ctx.setting("weights")
    if not isinstance(weights, dict) or not weights:
        raise IntentFailed(
            "config-invalid",
            f"config.strategies.{ctx.name}.weights must be {{instrument: weight, ...}}",
        )
    return {str(k): float(v) for k, v in weights.items()}


@strategy("dummy")
def dummy(ctx: StrategyContext) -> dict[str, float]:
    """A deterministic test strategy: its configured weights, or 10% in SPY."""
    return {str(k): float(v) for k, v in ctx.setting("weights", {"SPY": 0.1}).items()}
