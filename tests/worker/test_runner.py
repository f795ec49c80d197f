"""One attempt of an intent (worker/runner.py) with a fake gateway session: its deadline, its
interruptions, how errors become outcomes, and the lease renewer."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from worker import logs
from worker.exceptions import (
    DeadlineExceeded,
    GatewayBusy,
    GatewayError,
    IntentFailed,
    ShuttingDown,
    StoreRefused,
    StoreUnavailable,
)
from worker.gateway.session import Opened
from worker.intent_registry import IntentContext, IntentSpec
from worker.message import IntentMessage
from worker.runner import Runner
from worker.settings import Settings

MESSAGE = IntentMessage(id="job-1", intent="unit", params={"size": 3}, explicit_mode=True)


@dataclass
class FakeSession:
    """The gateway session's interface: open() a connection, done() to keep it warm, close()."""

    reused: bool = False
    opens: int = 0
    dones: int = 0
    closes: int = 0
    ib: object = field(default_factory=object)

    on_second_factor: Any = None
    within: tuple = ()

    def open(self, on_second_factor: Any = None, within: tuple = ()) -> Opened:
        self.opens += 1
        self.on_second_factor = on_second_factor
        self.within = within
        return Opened(self.ib, reused=self.reused, start_ms=None if self.reused else 1234)

    def done(self) -> None:
        self.dones += 1

    def close(self) -> None:
        self.closes += 1


@dataclass
class Harness:
    session: FakeSession
    audits: list[tuple[str, str, dict]]
    renewals: list[str]
    runner: Runner


def harness(renew: Any = None, reused: bool = False, **settings: Any) -> Harness:
    session = FakeSession(reused=reused)
    audits: list[tuple[str, str, dict]] = []
    renewals: list[str] = []

    def renewing(intent_id: str) -> bool:
        renewals.append(intent_id)
        return True if renew is None else renew(len(renewals))

    runner = Runner(
        Settings(**{"intent_deadline_seconds": 30, "lease_seconds": 60, **settings}),
        session=lambda: session,
        audit=lambda intent_id, kind, detail: audits.append((intent_id, kind, detail)),
        renew=renewing,
    )
    return Harness(session, audits, renewals, runner)


def run(h: Harness, body: Any) -> Any:
    return h.runner.run(IntentSpec(name="unit", run=body), MESSAGE, attempt=2)


# -- success and the gateway --------------------------------------------------------------------


def test_the_intent_gets_its_context_and_params():
    seen: dict[str, Any] = {}

    def body(ctx: IntentContext, params: dict) -> dict:
        seen.update(ctx=ctx, params=params)
        return {"done": params["size"]}

    h = harness()
    outcome = run(h, body)
    assert (outcome.output, outcome.error, outcome.busy, outcome.interrupted) == (
        {"done": 3},
        None,
        None,
        None,
    )
    ctx = seen["ctx"]
    assert (ctx.id, ctx.record_id, ctx.intent, ctx.attempt) == ("job-1", "job-1", "unit", 2)
    assert (ctx.trading_mode, ctx.explicit_mode, ctx.owns()) == ("paper", True, True)
    assert outcome.timings["runMs"] >= 0
    assert h.session.opens == 0  # an intent that does not ask for the gateway starts none


def test_the_gateway_opens_once_per_attempt_and_is_kept_warm_after_success():
    def body(ctx: IntentContext, params: dict) -> dict:
        assert ctx.ib() is ctx.ib()
        ctx.audit("order placed", {"orderRef": "job-1:0:0"})
        return {}

    h = harness()
    outcome = run(h, body)
    assert (h.session.opens, h.session.dones, h.session.closes) == (1, 1, 0)
    assert outcome.timings["gatewayStartMs"] == 1234
    assert outcome.timings["gatewayReused"] is False
    assert h.audits == [
        ("job-1", "gateway started", {"startMs": 1234}),
        ("job-1", "order placed", {"orderRef": "job-1:0:0"}),
    ]


def test_the_gateway_is_waited_for_no_longer_than_the_deadline_and_the_ttl_allow():
    h = harness()  # a deadline of 30 s
    run(h, lambda ctx, params: ctx.ib() and {})
    deadline_left, ttl_left = h.session.within
    assert 20 < deadline_left <= 22.5  # 30 s less the margin for the result (a quarter)
    assert ttl_left is None  # no TTL on the message
    expiring = dataclasses.replace(MESSAGE, expires_at=datetime.now(UTC) + timedelta(seconds=7))
    h.runner.run(IntentSpec(name="unit", run=lambda ctx, params: ctx.ib() and {}), expiring, 1)
    assert 0 < h.session.within[1] <= 7


def test_a_reused_gateway_is_not_an_audit_event():
    h = harness(reused=True)
    outcome = run(h, lambda ctx, params: {"ib": ctx.ib() is h.session.ib})
    assert outcome.output == {"ib": True}
    assert (outcome.timings["gatewayReused"], outcome.timings["gatewayStartMs"]) == (True, None)
    assert h.audits == []


# -- interruptions ------------------------------------------------------------------------------


def test_the_deadline_interrupts_the_intent_and_stops_the_gateway():
    def body(ctx: IntentContext, params: dict) -> dict:
        ctx.ib()
        time.sleep(20)
        return {"never": True}

    h = harness(intent_deadline_seconds=1)
    t0 = time.monotonic()
    outcome = run(h, body)
    assert time.monotonic() - t0 < 20  # the body's sleep was cut short, not waited for
    assert isinstance(outcome.interrupted, DeadlineExceeded)
    assert outcome.error == {
        "code": "deadline",
        "message": "the intent deadline of 1 s passed",
        "retryable": True,
    }
    assert outcome.output == {}
    assert (h.session.dones, h.session.closes) == (0, 1)


def test_intent_code_cannot_swallow_the_deadline():
    def body(ctx: IntentContext, params: dict) -> dict:
        try:
            time.sleep(20)
        except Exception:  # what careless intent code does
            return {"swallowed": True}
        return {}

    outcome = run(harness(intent_deadline_seconds=1), body)
    assert isinstance(outcome.interrupted, DeadlineExceeded)


def test_a_shutdown_interrupts_the_intent():
    def body(ctx: IntentContext, params: dict) -> dict:
        ctx.ib()
        raise ShuttingDown("the instance is shutting down (SIGTERM)")

    h = harness()
    outcome = run(h, body)
    assert isinstance(outcome.interrupted, ShuttingDown)
    assert (outcome.error["code"], outcome.error["retryable"]) == ("shutdown", True)
    assert h.session.closes == 1


# -- errors become outcomes ---------------------------------------------------------------------


def fails(exc: BaseException):
    def body(ctx: IntentContext, params: dict) -> dict:
        ctx.ib()
        raise exc

    return body


def test_an_intent_failure_keeps_what_it_found_and_the_warm_gateway():
    h = harness()
    failure = IntentFailed("risk-limit", "order too large", result={"orders": []})
    outcome = run(h, fails(failure))
    assert outcome.error == {"code": "risk-limit", "message": "order too large", "retryable": False}
    assert outcome.output == {"orders": []}
    assert (h.session.dones, h.session.closes) == (1, 0)


@pytest.mark.parametrize(
    ("exc", "code", "words", "retryable"),
    [
        (GatewayError("gateway-timeout", "no API after 120 s"), "gateway-timeout", "no API", True),
        (GatewayError("credentials", "bad secret", retryable=False), "credentials", "bad", False),
        (ConnectionError("peer closed"), "ib-disconnected", "was lost: ConnectionError", True),
        (TimeoutError("reqPositions"), "ib-disconnected", "not answering in time", True),
        (KeyError("conId"), "internal", "KeyError: 'conId'", True),
    ],
)
def test_errors_that_may_have_broken_the_gateway_stop_it(exc, code, words, retryable):
    h = harness()
    outcome = run(h, fails(exc))
    assert (outcome.error["code"], outcome.error["retryable"]) == (code, retryable)
    assert words in outcome.error["message"]
    assert (h.session.dones, h.session.closes) == (0, 1)


def test_a_busy_gateway_is_no_error():
    outcome = run(harness(), fails(GatewayBusy("the gateway lease is held by i-2")))
    assert (outcome.busy, outcome.error) == ("the gateway lease is held by i-2", None)


def test_firestore_unavailable_is_not_an_outcome_but_the_gateway_stops():
    h = harness()
    with pytest.raises(StoreUnavailable):
        run(h, fails(StoreUnavailable("Firestore did not answer")))
    assert h.session.closes == 1


def test_a_write_firestore_refuses_fails_the_intent_for_good_and_keeps_the_gateway():
    h = harness()

    def body(ctx: IntentContext, params: dict) -> dict:
        ctx.ib()
        raise StoreRefused("Firestore refused the write: Document exceeds maximum size")

    outcome = run(h, body)
    assert outcome.error["code"] == "store-refused" and outcome.error["retryable"] is False
    assert (h.session.dones, h.session.closes) == (1, 0)


def test_error_messages_are_redacted():
    logs.register_secret("runner-canary-8Jd")
    outcome = run(harness(), fails(IntentFailed("login", "RUNNER-CANARY-8jd: password=hunter2")))
    assert outcome.error["message"] == "***: password=***"


# -- the lease renewer --------------------------------------------------------------------------


def wait_until(condition: Any, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_lease_is_renewed_while_the_intent_runs_and_not_after():
    h = harness(lease_seconds=0.3)  # renewed every 0.1 s

    def body(ctx: IntentContext, params: dict) -> dict:
        assert wait_until(lambda: len(h.renewals) >= 3)
        return {"owns": ctx.owns()}

    assert run(h, body).output == {"owns": True}
    assert set(h.renewals) == {"job-1"}
    after = len(h.renewals)
    time.sleep(0.35)
    assert len(h.renewals) == after
    assert not [t for t in threading.enumerate() if t.name == "intent lease"]


def test_a_run_before_any_claim_renews_nothing_and_owns_nothing():
    h = harness(lease_seconds=0.3)  # a claimed run would renew every 0.1 s
    renewers: list[int] = []

    def body(ctx: IntentContext, params: dict) -> dict:
        time.sleep(0.35)
        renewers.append(len([t for t in threading.enumerate() if t.name == "intent lease"]))
        ctx.check_owner()  # no order may go out of a run nobody claimed
        return {}

    outcome = h.runner.run(IntentSpec(name="unit", run=body), MESSAGE, 1, claimed=False)
    assert outcome.error["code"] == "lease-lost"
    assert h.renewals == [] and renewers == [0]


def test_a_lease_renewal_that_says_the_lease_is_gone_stops_orders():
    h = harness(renew=lambda n: n < 2, lease_seconds=0.3)  # the second renewal finds it gone

    def body(ctx: IntentContext, params: dict) -> dict:
        assert wait_until(lambda: not ctx.owns())
        ctx.check_owner()  # what every order does before it goes out
        return {}

    outcome = run(h, body)
    assert outcome.error["code"] == "lease-lost"
    assert outcome.error["retryable"] is True
    time.sleep(0.35)
    assert len(h.renewals) == 2  # the renewer stopped when the lease was gone


def test_a_failing_renewal_is_tried_again():
    def flaky(n: int) -> bool:
        if n == 1:
            raise StoreUnavailable("Firestore did not answer")
        return True

    h = harness(renew=flaky, lease_seconds=0.3)

    def body(ctx: IntentContext, params: dict) -> dict:
        assert wait_until(lambda: len(h.renewals) >= 3)
        return {"owns": ctx.owns()}

    assert run(h, body).output == {"owns": True}


def test_renewals_that_keep_failing_let_the_lease_run_out_and_stop_orders():
    def down(n: int) -> bool:
        raise StoreUnavailable("Firestore did not answer")

    h = harness(renew=down, lease_seconds=0.3)

    def body(ctx: IntentContext, params: dict) -> dict:
        assert ctx.owns()  # just claimed
        # Another instance may take the intent over once the lease ran out unrenewed.
        assert wait_until(lambda: not ctx.owns(), timeout=2)
        ctx.check_owner()
        return {}

    outcome = run(h, body)
    assert outcome.error["code"] == "lease-lost"


def test_a_slow_renewal_counts_from_when_it_started():
    # The lease a renewal writes runs from when it was written, somewhere between the call and
    # its answer: ownership is counted from the call, never from the answer.
    now = [0.0]

    def slow_then_down(n: int) -> bool:
        if n == 1:
            now[0] += 0.2  # the renewal took this long (of a 0.3 s lease)
            return True
        raise StoreUnavailable("Firestore did not answer")

    h = harness(renew=slow_then_down, lease_seconds=0.3)
    h.runner.clock = lambda: now[0]

    def body(ctx: IntentContext, params: dict) -> dict:
        assert wait_until(lambda: len(h.renewals) >= 2)
        now[0] = 0.24
        owned = ctx.owns()
        now[0] = 0.26  # 5/6 of the lease after the first renewal was called
        return {"then": owned, "now": ctx.owns()}

    assert run(h, body).output == {"then": True, "now": False}


@pytest.mark.parametrize(("still_running", "written"), [(False, []), (True, ["order placed"])])
def test_an_attempt_resumed_past_its_lease_writes_to_the_trail_only_if_the_intent_is_its_own(
    still_running, written
):
    """Frozen past its lease (SIGSTOP) and resumed: the attempt asks the record once. Ended or
    taken over meanwhile: nothing more of it in any trail. Nobody took it: it goes on."""
    now = [0.0]
    h = harness(renew=lambda n: still_running, lease_seconds=60)
    h.runner.clock = lambda: now[0]

    def body(ctx: IntentContext, params: dict) -> dict:
        now[0] = 61.0  # resumed after the lease ran out; no renewal ran meanwhile
        ctx.audit("order placed", {"orderRef": "job-1:alloc:SPY"})
        ctx.audit_intent("other-1", "fill", {"orderRef": "other-1:alloc:SPY"})
        return {"owns": ctx.owns()}

    outcome = run(h, body)
    assert outcome.output == {"owns": still_running}
    assert [kind for _, kind, _ in h.audits] == written + (["fill"] if still_running else [])
    assert h.renewals == ["job-1"]  # asked once: renewed, or known lost from then on


def test_a_login_waiting_for_approval_is_audited_on_the_intent_once_per_attempt():
    def body(ctx: IntentContext, params: dict) -> dict:
        ctx.ib()
        return {}

    h = harness()
    run(h, body)
    waiting = h.session.on_second_factor
    waiting(1)  # what the gateway session calls when IBC's output says so
    waiting(2)
    told = [(i, kind, d) for i, kind, d in h.audits if kind == "waiting for second-factor approval"]
    assert [(i, d["attempt"]) for i, _, d in told] == [("job-1", 1), ("job-1", 2)]


def test_the_attempts_deadline_for_waits_is_the_deadline_less_the_margin_or_the_ttl() -> None:
    from worker.runner import _deadline

    def left(seconds: float, expires: datetime | None) -> tuple[float, float]:
        """The seconds left by the deadline: bounds from the clock before and after the call."""
        before = time.monotonic()
        at = _deadline(seconds, expires)
        return at - time.monotonic(), at - before

    low, high = left(480, None)
    assert low <= 470 <= high  # the result's 10 s margin
    low, high = left(20, None)
    assert low <= 15 <= high  # a quarter of a short deadline
    # the TTL comes first: at most 30 s from the clock after the call (the expiry is read on the
    # wall clock before the call, so the clock before it can be a few µs late: CI saw 30.00005)
    assert left(480, datetime.now(UTC) + timedelta(seconds=30))[0] <= 30
    assert left(480, datetime.now(UTC) - timedelta(seconds=5))[1] < 0  # already expired
