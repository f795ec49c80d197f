"""Run one attempt of an intent: its context, its gateway session, its deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker import interrupts, results
from worker.database import Database
from worker.exceptions import (
    GatewayBusy,
    GatewayError,
    IntentFailed,
    Interrupted,
    StoreRefused,
    StoreUnavailable,
)
from worker.gateway import second_factor
from worker.intent_registry import IntentContext, IntentSpec
from worker.lease_renewal import Renewer
from worker.message import IntentMessage
from worker.settings import Settings

log = logging.getLogger("worker")


@dataclass
class Outcome:
    """What an attempt produced. `busy` and `interrupted` attempts do not count."""

    output: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    busy: str | None = None
    interrupted: Interrupted | None = None


@dataclass
class Runner:
    settings: Settings
    session: Callable[[], Any]  # -> GatewaySession, created on first use
    audit: Callable[[str, str, dict[str, Any]], None]
    db: Database | None = None
    renew: Callable[[str], bool] | None = None  # extends the attempt's lease on the intent
    clock: Callable[[], float] = time.monotonic

    def run(
        self, spec: IntentSpec, message: IntentMessage, attempt: int, claimed: bool = True
    ) -> Outcome:
        """One attempt. `claimed=False`: a run before any claim (an intent without side
        effects), which holds no lease to renew and owns nothing (no order may go out)."""
        outcome = Outcome()
        opened: list[Any] = []
        lost = threading.Event()
        # Renewals that fail (Firestore unreachable) let the lease run out and another instance
        # take the intent over: past a lease from the last renewal, this attempt owns nothing.
        lease = self.settings.lease_seconds
        renewed = [self.clock()]

        def renew() -> bool:
            started = self.clock()  # the lease written runs from no earlier than this
            if self.renew is None or self.renew(message.id):
                renewed[0] = started
                return True
            lost.set()  # the intent passed to another instance: no more orders from here
            return False

        def owns() -> bool:
            return claimed and not lost.is_set() and self.clock() < renewed[0] + lease * 5 / 6

        def still_mine() -> bool:
            """Whether this attempt may still write to the trail: an attempt past its lease (frozen,
            or its renewals failed) asks the record once; once the intent ended or went to
            another attempt, it writes nothing further."""
            return not claimed or owns() or (not lost.is_set() and renew())

        def audit(kind: str, detail: dict[str, Any]) -> None:
            if still_mine():
                self.audit(message.id, kind, detail)

        def audit_intent(intent_id: str, kind: str, detail: dict[str, Any]) -> None:
            if still_mine():
                self.audit(intent_id, kind, detail)

        def open_gateway() -> Any:
            if not opened:
                session = self.session()
                # A restarting external gateway is waited for while the deadline (less a margin
                # for the result: 10 s, or a quarter of a short deadline) and the TTL allow; then
                # a retryable gateway-not-ready.
                margin = min(10.0, seconds / 4)
                ttl_left = (
                    (message.expires_at - datetime.now(UTC)).total_seconds()
                    if message.expires_at
                    else None
                )
                got = session.open(
                    on_second_factor=second_factor.announcer(
                        message.trading_mode, audit, self.settings.notify_url
                    ),
                    within=(seconds - (time.perf_counter() - t0) - margin, ttl_left),
                )
                opened.append(session)
                outcome.timings.update(gatewayStartMs=got.start_ms, gatewayReused=got.reused)
                if not got.reused:
                    audit("gateway started", {"startMs": got.start_ms})
                return got.ib
            return opened[0].ib

        seconds = self.settings.intent_deadline_seconds
        ctx = IntentContext(
            id=message.id,
            intent=message.intent,
            trading_mode=message.trading_mode,
            settings=self.settings,
            attempt=attempt,
            audit=audit,
            audit_intent=audit_intent,
            record_id=message.id,
            open_gateway=open_gateway,
            db=self.db,
            explicit_mode=message.explicit_mode,
            owns=owns,
            deadline=_deadline(seconds, message.expires_at),
        )
        renewer = Renewer("intent lease", self.settings.lease_seconds / 3, renew)
        if claimed:
            renewer.start()
        log.info("running intent %s (attempt %d)", message.intent, attempt)
        t0 = time.perf_counter()
        healthy = True
        try:
            with interrupts.deadline(seconds), interrupts.interruptible():
                outcome.output = spec.run(ctx, message.params)
        except GatewayBusy as exc:
            outcome.busy = str(exc)
        except Interrupted as exc:
            healthy = False
            outcome.interrupted = exc
            outcome.error = results.error(exc.code, str(exc), retryable=True)
        except IntentFailed as exc:
            healthy = not isinstance(exc, GatewayError)
            outcome.error = results.error(exc.code, str(exc), retryable=exc.retryable)
            outcome.output = exc.result
        except StoreRefused as exc:  # a write of the intent's that can never succeed
            outcome.error = results.error("store-refused", str(exc), retryable=False)
        except StoreUnavailable:
            healthy = False
            raise
        except (ConnectionError, TimeoutError) as exc:
            healthy = False
            what = "lost" if isinstance(exc, ConnectionError) else "not answering in time"
            outcome.error = results.error(
                "ib-disconnected",
                f"the gateway connection was {what}: {exc.__class__.__name__}: {exc}",
                retryable=True,
            )
        except Exception as exc:
            healthy = False
            log.exception("intent %s raised", message.intent)
            outcome.error = results.error(
                "internal", f"{exc.__class__.__name__}: {exc}", retryable=True
            )
        finally:
            renewer.stop()
            outcome.timings["runMs"] = int((time.perf_counter() - t0) * 1000)
            for session in opened:
                session.done() if healthy else session.close()
        return outcome


def _deadline(seconds: float, expires_at: datetime | None) -> float:
    """time.monotonic() by which an attempt's waits must end: its deadline less the margin for
    the result (10 s, or a quarter of a short deadline), or the message's expiry if sooner."""
    left = seconds - min(10.0, seconds / 4)
    if expires_at is not None:
        left = min(left, (expires_at - datetime.now(UTC)).total_seconds())
    return time.monotonic() + left
