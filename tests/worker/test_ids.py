"""The id rule, end to end through Pub/Sub: ids are per trading mode (a paper and a live worker,
each with its own push subscription on `intents`, run their own message of one id once and
ignore the other's); a rejected message never takes its id (a typo, then the fix with the same
id, runs the fix); the same id with a different body is rejected as `id-reused`, naming the
earlier message; the same body again is a duplicate with no second result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.stack import LocalStack
from tests.support import (
    drop_push_subscriptions,
    events,
    publish,
    record,
    side_worker,
    unique,
    wait_until,
)


@pytest.fixture
def live(stack: LocalStack, tmp_path: Path) -> Iterator[LocalStack]:
    """A live worker beside the stack's paper worker: its own port and gateway, its own push
    subscriptions `worker-push-live` (on `intents`) and `worker-dead-letter-live`."""
    worker = side_worker(stack, tmp_path, mode="live")
    try:
        yield worker
    finally:
        worker.stop()
        drop_push_subscriptions(worker)


def logged(worker: LocalStack, message_id: str, text: str) -> bool:
    for line in (worker.log_dir / "worker.log").read_text(errors="replace").splitlines():
        with_fields: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
        if with_fields.get("messageId") == message_id and text in with_fields.get("message", ""):
            return True
    return False


def test_paper_and_live_with_one_id_each_run_their_own_message_once(stack, live, results, db):
    intent_id = unique("both")
    paper_message = publish(stack, {"intent": "summary", "id": intent_id})
    live_message = publish(stack, {"intent": "summary", "id": intent_id, "tradingMode": "live"})
    wait_until(lambda: len(results.all_for(intent_id, settle=1)) >= 2, 90, "both results")
    by_mode = {r["tradingMode"]: r for r in results.all_for(intent_id, settle=3)}
    assert len(results.all_for(intent_id, settle=0)) == 2 and set(by_mode) == {"paper", "live"}
    for mode, message_id in (("paper", paper_message), ("live", live_message)):
        result = by_mode[mode]
        assert (result["status"], result["_attributes"]["tradingMode"]) == ("succeeded", mode)
        assert result["messageId"] == message_id
        saved = record(db, intent_id, mode)
        assert (saved["status"], saved["messageIds"]) == ("succeeded", [message_id])
    # Each worker ran its own account: DU... is paper, U... is live.
    assert by_mode["paper"]["result"]["account"].startswith("DU")
    assert by_mode["live"]["result"]["account"].startswith("U")
    # And each ignored the other's message, with a log line only.
    ignored = "message for trading mode {} ignored by the {} worker"
    assert wait_until(
        lambda: logged(live, paper_message, ignored.format("paper", "live")), 10, "live ignores"
    )
    assert logged(stack, live_message, ignored.format("live", "paper"))
    assert not logged(stack, paper_message, "ignored")
    assert not logged(live, live_message, "ignored")


def test_a_typo_then_the_fix_with_the_same_id_runs_the_fix(stack, results, db):
    intent_id = unique("rebalance")
    typo = publish(stack, {"intent": "allocation", "id": intent_id, "params": {"dryrun": True}})
    rejected = results.for_id(intent_id, timeout=30)
    assert (rejected["status"], rejected["messageId"]) == ("rejected", typo)
    assert "dryrun" in rejected["error"]["message"]
    fixed = publish(stack, {"intent": "allocation", "id": intent_id, "params": {"dryRun": True}})
    wait_until(lambda: len(results.all_for(intent_id, settle=1)) == 2, 60, "the fix's result")
    _, second = results.all_for(intent_id, settle=3)
    assert (second["status"], second["messageId"]) == ("succeeded", fixed), second["error"]
    assert second["result"]["dryRun"] is True
    saved = record(db, intent_id)
    assert (saved["status"], saved["messageIds"]) == ("succeeded", [fixed])
    assert events(db, intent_id)[:4] == ["received", "rejected", "received", "claimed"]


def test_the_same_id_with_another_body_is_rejected_naming_the_earlier_message(stack, results, db):
    intent_id = unique("reused")
    earlier = publish(stack, {"intent": "ping", "id": intent_id})
    assert results.for_id(intent_id, timeout=30)["status"] == "succeeded"
    later = publish(stack, {"intent": "ping", "id": intent_id, "params": {"gateway": True}})
    wait_until(lambda: len(results.all_for(intent_id, settle=1)) == 2, 30, "the rejection")
    reused = results.all_for(intent_id, settle=3)[1]
    assert (reused["status"], reused["messageId"]) == ("rejected", later)
    assert reused["error"]["code"] == "id-reused"
    assert earlier in reused["error"]["message"]
    saved = record(db, intent_id)
    assert saved["status"] == "succeeded" and "gateway" not in saved["result"]
    assert saved["messageIds"] == [earlier, later]
    assert events(db, intent_id)[-1] == "id reused"
    assert len(results.all_for(intent_id, settle=0)) == 2


def test_the_same_body_again_is_a_duplicate_with_no_second_result(stack, results, db):
    intent_id = unique("again")
    first = publish(stack, {"intent": "ping", "id": intent_id})
    assert results.for_id(intent_id, timeout=30)["messageId"] == first
    # The same request in other words: keys in another order, the default mode spelled out.
    again = publish(stack, {"tradingMode": "paper", "id": intent_id, "intent": "ping"})
    wait_until(
        lambda: (record(db, intent_id) or {}).get("messageIds") == [first, again],
        30,
        "the second message handled",
    )
    assert events(db, intent_id)[-1] == "duplicate"
    assert [r["messageId"] for r in results.all_for(intent_id, settle=3)] == [first]
