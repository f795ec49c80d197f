"""The gateway session through the real pipeline, against the simulator and the emulators."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml

from deploy.processes import free_port
from tests.support import delivery, events, pipeline, record, unique


@pytest.fixture
def make(stack):
    """Pipelines with their own settings; their gateway sessions are closed at the end."""
    made = []

    def build(**env: str):
        worker = pipeline(stack, **env)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.session.close()


def control(port: int, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method="POST" if body is not None else "GET",
        data=json.dumps(body or {}).encode(),
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def summary(worker, results, **extra):
    intent_id = unique("summary")
    answer = worker.handle(delivery({"intent": "summary", "id": intent_id, **extra}))
    return intent_id, answer


def test_summary_reports_the_account(make, results, db):
    worker = make()
    intent_id, answer = summary(worker, results)
    assert answer.status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    body = result["result"]
    assert body["account"] == "DU1234567" and body["baseCurrency"] == "USD"
    assert body["values"]["NetLiquidation"] > 0
    assert {p["symbol"] for p in body["portfolio"]} == {"SPY", "TLT"}
    assert body["cash"]["EUR"] == 12000.0
    assert result["timings"]["gatewayReused"] is False
    assert result["timings"]["gatewayStartMs"] < 10_000
    assert "gateway started" in events(db, intent_id)
    # Without keep-warm the gateway is stopped and the lease released after the intent.
    assert worker.session.launcher is None
    assert not db.collection("locks").document("gateway-paper").get().exists


def test_keep_warm_reuses_the_session_then_stops_when_idle(make, results, db):
    worker = make(GATEWAY_KEEPALIVE_SECONDS="4")
    reused = []
    for _ in range(3):
        intent_id, _ = summary(worker, results)
        reused.append(results.for_id(intent_id)["timings"]["gatewayReused"])
    assert reused == [False, True, True]
    assert worker.session.launcher is not None
    assert db.collection("locks").document("gateway-paper").get().exists
    lock = db.collection("locks").document("gateway-paper")
    deadline = time.monotonic() + 15
    # The idle timer stops the gateway, then releases the lease.
    while (worker.session.launcher is not None or lock.get().exists) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert worker.session.launcher is None, "idle timer did not stop the gateway"
    assert not lock.get().exists
    intent_id, _ = summary(worker, results)
    assert results.for_id(intent_id)["timings"]["gatewayReused"] is False


def test_idle_timer_firing_while_an_intent_takes_the_session_leaves_it_alone(make, results):
    worker = make(GATEWAY_KEEPALIVE_SECONDS="1")
    first, _ = summary(worker, results)
    assert results.for_id(first)["status"] == "succeeded"
    session = worker.session
    with session.lock:  # the next intent is in open(): the timer fires and waits for the lock
        time.sleep(1.5)
        opened = session.open()
    assert opened.reused is True
    time.sleep(0.5)  # the timer thread has had the lock by now
    assert session.ib is opened.ib and opened.ib.isConnected()


def test_warm_session_that_died_is_restarted(make, results):
    port = free_port()
    worker = make(GATEWAY_KEEPALIVE_SECONDS="30", SIMULATOR_CONTROL_PORT=str(port))
    first, _ = summary(worker, results)
    assert results.for_id(first)["status"] == "succeeded"
    control(port, "/drop", {})
    second, _ = summary(worker, results)
    result = results.for_id(second)
    assert (result["status"], result["timings"]["gatewayReused"]) == ("succeeded", False)


def test_boot_slower_than_the_connect_timeout_fails_after_the_attempts(make, results, db):
    worker = make(SIMULATOR_BOOT_DELAY="3", GATEWAY_CONNECT_TIMEOUT_SECONDS="1", MAX_ATTEMPTS="2")
    intent_id = unique("slow")
    message = delivery({"intent": "summary", "id": intent_id})
    first = worker.handle(message)
    assert first.status == 503
    assert first.body["error"]["code"] == "gateway-not-ready"
    assert first.body["error"]["retryable"] is True  # another attempt follows
    assert record(db, intent_id)["attempts"] == 1
    second = worker.handle(message)
    assert second.status == 200
    result = results.for_id(intent_id)
    assert (result["status"], result["attempts"]) == ("failed", 2)
    assert (result["error"]["code"], result["error"]["retryable"]) == ("gateway-not-ready", False)
    message = result["error"]["message"]
    assert "gateway not accepting API connections" in message and "within 1 s" in message
    assert "gateway log (tail)" in message
    assert not db.collection("locks").document("gateway-paper").get().exists


def test_hung_handshake_is_a_retryable_failure(make, results, tmp_path):
    state = tmp_path / "state.yaml"
    state.write_text(yaml.safe_dump({"faults": {"hang_handshake": 30}}))
    worker = make(SIMULATOR_STATE=str(state), GATEWAY_CONNECT_TIMEOUT_SECONDS="2")
    _, answer = summary(worker, results)
    assert answer.status == 503
    assert "handshake did not complete" in answer.body["error"]["message"]
    assert worker.session.launcher is None  # the stuck gateway was stopped


def test_connection_dropped_mid_intent_is_retried_and_the_redelivery_succeeds(
    make, results, tmp_path
):
    state = tmp_path / "state.yaml"
    state.write_text(yaml.safe_dump({"faults": {"drop_on_request": 49}}))  # reqCurrentTime
    worker = make(SIMULATOR_STATE=str(state))
    intent_id = unique("drop")
    message = delivery({"intent": "ping", "id": intent_id, "params": {"gateway": True}})
    first = worker.handle(message)
    assert first.status == 503
    assert first.body["error"]["code"] == "ib-disconnected"
    state.write_text(yaml.safe_dump({"faults": {}}))  # the outage is over
    second = worker.handle(message)
    assert second.status == 200
    result = results.for_id(intent_id)
    assert (result["status"], result["attempts"]) == ("succeeded", 2)
    assert result["result"]["gateway"]["accounts"] == ["DU1234567"]


def test_competing_session_is_explained(make, results, tmp_path):
    state = tmp_path / "state.yaml"
    state.write_text(yaml.safe_dump({"faults": {"competing_session": True}}))
    worker = make(SIMULATOR_STATE=str(state), MAX_ATTEMPTS="1")
    intent_id, _ = summary(worker, results)
    result = results.for_id(intent_id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "ib-10197"
    assert "competing session" in result["error"]["message"]


def test_lease_held_then_released_lets_the_intent_run(make, results, db):
    from datetime import UTC, datetime, timedelta

    lock = db.collection("locks").document("gateway-paper")
    lock.set({"owner": "other", "expiresAt": datetime.now(UTC) + timedelta(minutes=5)})
    worker = make()
    intent_id = unique("lease")
    message = delivery({"intent": "summary", "id": intent_id})
    try:
        assert worker.handle(message).status == 429
    finally:
        lock.delete()
    assert worker.handle(message).status == 200
    result = results.for_id(intent_id)
    assert (result["status"], result["attempts"]) == ("succeeded", 1)


def test_deadline_stops_the_gateway_and_the_attempt_is_retryable(make, results, db):
    worker = make(SIMULATOR_BOOT_DELAY="5", INTENT_DEADLINE_SECONDS="1")
    intent_id, answer = summary(worker, results)
    assert answer.status == 503
    assert answer.body["error"]["code"] == "deadline"
    assert worker.session.launcher is None
    assert not db.collection("locks").document("gateway-paper").get().exists
    assert record(db, intent_id)["attempts"] == 1
