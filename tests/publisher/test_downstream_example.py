"""The downstream subscriber of docs/message-contract.md (once the README's), its code taken
verbatim from there, run against the local stack: it alerts on the failed result and lives
through the succeeded one (the emulator ignores the subscription's filter, so it gets both)."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time

from deploy.stack import ROOT
from publisher.client import publish_intent, wait_for_result
from tests.support import unique

PAGE = ROOT / "docs" / "message-contract.md"


def downstream_example() -> tuple[str, str]:
    """The Python block after "**Downstream**", and the gcloud command in its comment."""
    text = PAGE.read_text()
    code = re.search(r"\*\*Downstream\*\*.*?```python\n(.*?)```", text, re.S).group(1)
    create = re.search(r"^# (gcloud pubsub subscriptions create alerts .*)$", code, re.M).group(1)
    return code, create


def read_lines(proc: subprocess.Popen, until: str, timeout: float) -> list[str]:
    """stdout lines until one contains `until` (or the time is up)."""
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.2):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if until in line:
                break
    return lines


def test_the_readme_alert_subscriber_runs_verbatim_against_the_local_stack(stack, tmp_path):
    code, create = downstream_example()
    env = {**os.environ, **stack.client_env()}
    made = subprocess.run(["bash", "-c", create], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    script = tmp_path / "alerts.py"
    script.write_text(code)
    subscriber = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fine = publish_intent("ping", id=unique("fine"))
        assert wait_for_result(fine, timeout=60)["status"] == "succeeded"
        broken = publish_intent("allocation", {"strategies": ["moonshot"]}, id=unique("broken"))
        lines = read_lines(subscriber, broken, timeout=60)
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"ALERT allocation {broken}: unknown strategy 'moonshot'")
        assert subscriber.poll() is None  # the succeeded result before it did not end it
    finally:
        subscriber.send_signal(signal.SIGTERM)
        subscriber.wait(timeout=10)
        from google.cloud import pubsub_v1

        pubsub_v1.SubscriberClient().delete_subscription(subscription=stack.subscription("alerts"))
    errors = subscriber.stderr.read()
    assert "Traceback" not in errors and "exception" not in errors.lower(), errors
