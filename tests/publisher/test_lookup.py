"""`python -m publisher show ID`, `holdings` and `results` as a person runs them, against the
local stack's worker and simulator."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from deploy.stack import ROOT
from publisher.client import publish_intent
from tests.support import unique


def cli(stack, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, **stack.client_env(), **(env or {})},
    )


def _ran(results, intent: str, params: dict | None = None) -> dict:
    intent_id = publish_intent(intent, params, id=unique(intent))
    result = results.for_id(intent_id, timeout=60)
    assert result["status"] == "succeeded", result.get("error")
    return result


@contextlib.contextmanager
def exposure(db, overall: float):
    """Another overall exposure for paper, so that the targets differ from any holdings."""
    doc = db.collection("config").document("paper")
    before = doc.get().to_dict() or {}
    doc.set({"exposure": {"overall": overall}}, merge=True)
    try:
        yield
    finally:
        doc.set(before)


def test_show_prints_status_params_orders_fills_and_the_timeline(
    stack, results, db, positions_root
) -> None:
    with exposure(db, 0.35):
        result = _ran(results, "allocation")
    assert result["result"]["orders"]
    done = cli(stack, "show", result["id"])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"allocation {result['id']} (paper): succeeded")
    for heading in ("params:", "orders:", "result:", "timeline:"):
        assert f"\n{heading}\n" in out
    for order in result["result"]["orders"]:
        assert order["orderRef"] in out
        assert f"fill {order['filled']:,.0f} @" in out  # each fill under its order
    for kind in ("received", "claimed", "gateway started", "order placed", "fill", "finished"):
        assert f"  {kind} " in out
    assert "..." not in out  # nothing cut


def test_show_a_dry_run_lists_the_planned_orders(stack, results, db, positions_root) -> None:
    with exposure(db, 0.3):
        result = _ran(results, "allocation", {"dryRun": True})
    out = cli(stack, "show", result["id"]).stdout
    planned = result["result"].get("trades") or result["result"]["orders"]
    assert out.count(" planned ") == len(planned) >= 2


def test_show_unknown_or_malformed_ids_and_the_other_mode(stack, results) -> None:
    missing = cli(stack, "show", "no-such-intent")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no intent no-such-intent in paper"
    bad = cli(stack, "show", "bad id")
    assert bad.returncode == 1 and "is not an intent id" in bad.stderr
    result = _ran(results, "ping")
    other = cli(stack, "show", result["id"], "--mode", "live")
    assert other.returncode == 1
    assert "(it exists in paper: add --mode paper)" in other.stderr
    assert "Traceback" not in missing.stderr + bad.stderr + other.stderr


def test_holdings_lists_each_strategy_beside_the_ib_portfolio(
    stack, results, positions_root
) -> None:
    _ran(results, "allocation")
    summary = _ran(results, "summary")
    done = cli(stack, "holdings")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("holdings (paper)")
    assert "IB positions as of " in out and f"(summary {summary['id']})" in out
    assert "static-weights" in out and "SPY" in out and "TLT" in out
    assert "unreconciled orders (" in out


def test_results_prints_orders_readably(stack, results, db, positions_root) -> None:
    with exposure(db, 0.45):
        result = _ran(results, "allocation")
    assert result["result"]["orders"]
    done = cli(stack, "results", "--intent", "allocation", "--limit", "1")
    assert done.returncode == 0, done.stderr
    assert result["id"] in done.stdout
    for order in result["result"]["orders"]:
        assert order["orderRef"] in done.stdout
    assert "..." not in done.stdout


def test_firestore_unreachable_is_one_line(stack) -> None:
    down = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"}  # nothing listens there
    for args in (("show", "abc", "--timeout", "2"), ("holdings", "--timeout", "2")):
        done = cli(stack, *args, env=down)
        assert done.returncode == 4, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("error: the Firestore emulator at 127.0.0.1:9 is not answering")
