"""Gateway faults through the real pipeline that need no running gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import delivery, envelope, events, pipeline, post, record, unique
from tests.worker.gateway.fake_secret_manager import FakeSecretManager


def test_gateway_lease_held_elsewhere_answers_429_and_keeps_the_attempt(stack, db, results):
    lock = db.collection("locks").document("gateway-paper")
    lock.set({"owner": "another-instance", "expiresAt": datetime.now(UTC) + timedelta(minutes=5)})
    intent_id = unique("lease")
    try:
        status, body = post(
            stack, envelope({"intent": "ping", "id": intent_id, "params": {"gateway": True}})
        )
    finally:
        lock.delete()
    assert (status, body["status"]) == (429, "busy")
    saved = record(db, intent_id)
    assert (saved["status"], saved["attempts"]) == ("received", 0)
    assert "attempt returned" in events(db, intent_id)
    assert results.all_for(intent_id, settle=1) == []


def test_missing_credentials_fail_at_once_naming_the_secret(stack, db, results, tmp_path):
    (tmp_path / "ibgateway" / "1030").mkdir(parents=True)
    with FakeSecretManager() as secrets:
        worker = pipeline(
            stack,
            GATEWAY_MODE="ibc",
            SECRET_MANAGER_ENDPOINT=secrets.endpoint,
            TWS_PATH=str(tmp_path / "ibgateway"),
            IBC_PATH=str(tmp_path / "ibc"),
        )
        intent_id = unique("nocreds")
        answer = worker.handle(delivery({"intent": "summary", "id": intent_id}))
    assert answer.status == 200
    result = results.for_id(intent_id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "credentials"
    assert "secrets/ib-credentials-paper/versions/latest not found" in result["error"]["message"]
    assert result["attempts"] == 1
    assert not db.collection("locks").document("gateway-paper").get().exists
