"""A live login waiting for second-factor approval: IBC's line seen in the gateway's output, one
audit event, log line and webhook message per attempt (a local receiver takes the posts), and
never the webhook's address in a log."""

from __future__ import annotations

import json
import logging
import time

from hypothesis import given
from hypothesis import strategies as st

from tests.publisher import webhook_receiver
from tests.worker.gateway.ibc_standin import launcher
from worker.gateway.second_factor import SecondFactorWatch, announcer, message


def test_each_initiated_line_is_one_attempt():
    seen: list[int] = []
    watch = SecondFactorWatch(seen.append)
    for line in [
        "IBC: Starting session",
        "2026-03-02 14:05:09:123 IBC: Second Factor Authentication initiated",
        "IBC: Login has completed",
        "ibc: 2026-03-02 14:08:09:123 IBC: second factor authentication initiated",
    ]:
        watch.line(line)
    assert seen == [1, 2]


@given(st.text(max_size=200))
def test_other_lines_are_no_attempt(text):
    seen: list[int] = []
    SecondFactorWatch(seen.append).line(text.replace("initiated", ""))
    assert seen == []


def test_an_attempt_is_logged_audited_and_posted_once(caplog):
    receiver = webhook_receiver.start()
    audits: list[tuple[str, dict]] = []
    try:
        waiting = announcer("live", lambda kind, d: audits.append((kind, d)), receiver.url)
        with caplog.at_level(logging.WARNING, logger="worker.gateway"):
            waiting(1)
            (post,) = receiver.wait_for(1)
        body = json.loads(post.body)
        assert message() == "approve the IB login on IBKR Mobile within 180 s"
        assert message() in body["text"] and body["kind"] == "second-factor-waiting"
        assert body["tradingMode"] == "live"
        assert audits == [
            ("waiting for second-factor approval", {"attempt": 1, "approveWithinSeconds": 180})
        ]
        (logged,) = [r for r in caplog.records if getattr(r, "fields", {}).get("code")]
        assert logged.fields == {"code": "second-factor-waiting", "attempt": 1}
        assert "/hook" not in caplog.text
    finally:
        webhook_receiver.stop(receiver)


def test_an_audit_that_fails_does_not_stop_the_login(caplog):
    def broken(kind: str, detail: dict) -> None:
        raise RuntimeError("Firestore down")

    with caplog.at_level(logging.WARNING, logger="worker.gateway"):
        announcer("paper", broken, "")(1)  # no NOTIFY_URL: nothing is posted
    assert "could not audit the second-factor wait: RuntimeError" in caplog.text


def test_ibc_s_output_reaches_the_watch_once_per_attempt(ibc_home, monkeypatch):
    monkeypatch.setenv("STANDIN_2FA", "2")
    monkeypatch.setenv("STANDIN_SLEEP", "300")
    receiver = webhook_receiver.start()
    audits: list[tuple[str, dict]] = []
    ibc = launcher(ibc_home)
    ibc.on_line = SecondFactorWatch(
        announcer("paper", lambda kind, d: audits.append((kind, d)), receiver.url)
    ).line
    try:
        ibc.start()
        posts = receiver.wait_for(2)
        deadline = time.monotonic() + 30  # bounds a failure only
        while len(audits) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [d["attempt"] for _, d in audits] == [1, 2]
        assert len(posts) == 2
    finally:
        ibc.stop()
        webhook_receiver.stop(receiver)
