"""`make demo`: start the local stack, publish intents through Pub/Sub, print their results."""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from deploy.processes import StackError
from deploy.stack import INTENTS_TOPIC, RESULTS_TOPIC, LocalStack
from deploy.stack_options import StackOptions, images_from_env


def _print_result(result: dict[str, Any], stack: LocalStack) -> None:
    timings = result.get("timings") or {}
    rows = [
        ("intent", result.get("intent")),
        ("id", result.get("id")),
        ("status", result.get("status")),
        ("attempts", result.get("attempts")),
        ("run", f"{timings.get('runMs')} ms"),
        ("total", f"{timings.get('totalMs')} ms"),
        ("worker", "{service} {revision} v{version}".format(**result["worker"])),
        ("show", f".venv/bin/python -m publisher show {result.get('id')}"),
        ("dashboard", f"{stack.dashboard_url}intents/paper/{result.get('id')}"),
    ]
    if result.get("error"):
        rows.append(("error", result["error"]["message"]))
    for key, value in (result.get("result") or {}).items():
        rows.append((f"result.{key}", json.dumps(value) if not isinstance(value, str) else value))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def _print_summary(result: dict[str, Any]) -> None:
    summary = result.get("result") or {}
    timings = result.get("timings") or {}
    print(
        f"  account {summary.get('account')} ({summary.get('baseCurrency')}), gateway started in "
        f"{timings.get('gatewayStartMs')} ms, reused: {timings.get('gatewayReused')}"
    )
    for key, value in (summary.get("values") or {}).items():
        print(
            f"    {key:<20} {value:>16,.2f}"
            if isinstance(value, float)
            else f"    {key:<20} {value}"
        )
    rows = [("symbol", "type", "position", "price", "value", "unrealized")] + [
        (
            p["symbol"],
            p["secType"],
            f"{p['position']:g}",
            f"{p['marketPrice']:,.2f}",
            f"{p['marketValue']:,.2f}",
            f"{p['unrealizedPnL']:,.2f}",
        )
        for p in summary.get("portfolio", [])
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        print(
            "    "
            + "  ".join(
                c.rjust(w) if i >= 2 else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def publish_and_wait(
    stack: LocalStack, message: dict[str, Any], timeout: float = 120
) -> dict[str, Any]:
    """Publish an intent on `intents` and wait for its result on `intent-results`."""
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    tap = stack.subscription(f"demo-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(name=tap, topic=stack.topic(RESULTS_TOPIC))
    try:
        intent_id = message.setdefault("id", f"demo-{uuid.uuid4().hex[:12]}")
        pubsub_v1.PublisherClient().publish(
            stack.topic(INTENTS_TOPIC), json.dumps(message).encode(), intent=message["intent"]
        ).result(timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = subscriber.pull(subscription=tap, max_messages=10, timeout=5)
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=tap, ack_ids=[m.ack_id for m in response.received_messages]
                )
            for received in response.received_messages:
                if received.message.attributes.get("id") == intent_id:
                    return json.loads(received.message.data)
        raise TimeoutError(f"no result for intent {intent_id} within {timeout:.0f} s")
    finally:
        subscriber.delete_subscription(subscription=tap)


def _print_orders(result: dict[str, Any]) -> None:
    body = result.get("result") or {}
    rows = body.get("orders") or body.get("trades") or []
    for row in rows:
        filled = (
            f"  filled {row['filled']:g} @ {row['avgFillPrice']:,.2f}"
            if "filled" in row and (row.get("avgFillPrice"))
            else ""
        )
        print(
            f"    {row['action']:<4} {row['quantity']:>6g} {row['symbol']:<5} "
            f"{row.get('status', 'planned'):<9} orderRef {row['orderRef']}{filled}"
        )


def _step(stack: LocalStack, message: dict[str, Any], what: str) -> dict[str, Any]:
    print(f"\n==> {what}: publishing {json.dumps(message)}", flush=True)
    result = publish_and_wait(stack, {**message, "requestedBy": "make demo"})
    print(
        f"<== {message['intent']} {result.get('status')}"
        + (f": {result['error']['message']}" if result.get("error") else "")
    )
    return result


def _stay_up(stack: LocalStack, ok: bool, real: dict[str, Any]) -> int:
    """At a terminal: keep the stack and its dashboard up for a look, until Ctrl-C."""
    import signal

    print(
        f"\ndemo {'succeeded' if ok else 'FAILED'}. The dashboard shows its intents, their "
        f"timelines, the holdings and the account chart:\n  {stack.dashboard_url}\n"
        f"Or from another terminal:\n  {stack.env_file_line()}\n"
        f"  .venv/bin/python -m publisher show {real.get('id')}\n"
        f"  .venv/bin/python -m publisher holdings\n"
        f"The stack stays up until Ctrl-C.",
        flush=True,
    )
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0 if ok else 1


def run(state_dir: Path) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with the stack's
    try:
        with LocalStack(images_from_env().apply(StackOptions(state_dir=state_dir))) as stack:
            print(f"dashboard: {stack.dashboard_url}", flush=True)
            ping = _step(stack, {"intent": "ping"}, "the walking pipeline")
            _print_result(ping, stack)
            before = _step(stack, {"intent": "summary"}, "summary before trading")
            dry = _step(
                stack,
                {"intent": "allocation", "params": {"dryRun": True}},
                "allocation, dry run (static-weights 60% SPY / 40% TLT at 50%)",
            )
            _print_orders(dry)
            real = _step(stack, {"intent": "allocation"}, "allocation on the simulator")
            _print_orders(real)
            recon = _step(stack, {"intent": "trade-reconciliation"}, "trade-reconciliation")
            summary = _step(stack, {"intent": "summary"}, "summary")
            if summary.get("status") == "succeeded":
                _print_summary(summary)
            results = (ping, before, dry, real, recon, summary)
            ok = all(r.get("status") == "succeeded" for r in results)
            if sys.stdin.isatty():
                return _stay_up(stack, ok, real)
            print(f"\ndemo {'succeeded' if ok else 'FAILED'}; stopping the stack", flush=True)
            return 0 if ok else 1
    except (StackError, TimeoutError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr)
        return 130
