"""Historical bars from the gateway, paced to IB's limits (`worker.trading.pacing`).

Every historical-data request of this process goes through one `Pacing` (the worker has one
gateway). A request waits as the limits say, but never past the intent's deadline: then it fails
`pacing`, retryable, and a later attempt asks again. IB reports a pacing violation as error 162
("... pacing violation") or by not answering at all (ib_async then cancels the request after its
timeout and returns no bars); both are taken as pacing, held for a penalty and asked again
within the deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.exceptions import IntentFailed
from worker.trading.pacing import HistoryRequest, Pacing

ANSWER_SECONDS = 60.0  # ib_async's default wait for an answer
# This process's requests per gateway address: IB paces a login, and a reconnection to the same
# gateway must not forget what was sent just before.
_PACINGS: dict[tuple[str, int], Pacing] = {}


def pacing_for(ib: Any) -> Pacing:
    """The `Pacing` of the gateway `ib` is connected to."""
    address = (str(getattr(ib.client, "host", "")), int(getattr(ib.client, "port", 0) or 0))
    return _PACINGS.setdefault(address, Pacing())


def is_pacing(code: int, text: str) -> bool:
    """Whether IB's error is a pacing violation (162 with IB's text; 162 also refuses bars
    for other reasons, such as a bar size too small for the duration)."""
    return code == 162 and "pacing violation" in text.lower()


@dataclass
class Answer:
    """What one request brought: its bars, IB's last error about it, or nothing in time."""

    bars: list[Any] = field(default_factory=list)
    error: tuple[int, str] | None = None
    timed_out: bool = False


def ask(ib: Any, contract: Any, duration: str, bar_size: str, timeout: float) -> Answer:
    """One reqHistoricalData. ib_async returns an empty list both for a request IB answered with
    no bars and for one it cancelled after `timeout`: an empty answer without an error that took
    the whole timeout is the latter. The session's shorter RequestTimeout (which would raise
    and leave the request uncancelled) is lifted for the call, so ib_async cancels it itself."""
    from worker.gateway.connect import ErrorLog

    errors = ErrorLog()
    ib.errorEvent += errors
    session_timeout = ib.RequestTimeout
    if session_timeout:
        ib.RequestTimeout = max(session_timeout, timeout + 5)
    started, unanswered = time.monotonic(), False
    try:
        found = ib.reqHistoricalData(
            contract, "", duration, bar_size, "TRADES", True, timeout=timeout
        )
    except TimeoutError:  # not cancelled by ib_async: no answer all the same
        found, unanswered = [], True
    finally:
        ib.errorEvent -= errors
        ib.RequestTimeout = session_timeout
    bars = list(found or [])
    if errors.seen:
        return Answer(bars, errors.seen[-1])
    waited = time.monotonic() - started
    return Answer(bars, timed_out=unanswered or (not bars and waited >= timeout * 0.99))


@dataclass
class Gate:
    """Sends historical requests through a `Pacing`; `sleep` keeps the connection's events
    flowing (ib.sleep), `clock` is the pacing's."""

    pacing: Pacing | None = None  # None: the gateway's (`pacing_for`)
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] = time.monotonic
    asker: Callable[[Any, Any, str, str, float], Answer] = ask

    def bars(
        self,
        ib: Any,
        contract: Any,
        duration: str,
        bar_size: str,
        label: str,
        deadline: float | None = None,
    ) -> list[Any]:
        """Bars of `contract` (see market.bars); `deadline` on `clock`, None: no bound but the
        intent's own alarm."""
        sleep = self.sleep or ib.sleep
        pacing = self.pacing or pacing_for(ib)
        request = HistoryRequest(
            str(contract.conId or contract.symbol),
            contract.exchange or "",
            "TRADES",
            duration=duration,
            bar_size=bar_size,
        )
        violations = 0
        while True:
            left = math.inf if deadline is None else deadline - self.clock()
            wait = pacing.wait(request)
            if wait > 0 or left <= 0:
                if wait >= left:
                    raise IntentFailed(
                        "pacing",
                        f"IB's pacing limits for historical data hold {label} for "
                        f"{wait:.0f} s more, past this attempt's deadline ({max(left, 0):.0f} s "
                        f"left; {violations} pacing violation(s) reported by IB): a later "
                        "attempt asks again",
                        retryable=True,
                    )
                sleep(max(wait, 0.001))
                continue
            pacing.record(request)
            answer = self.asker(ib, contract, duration, bar_size, min(ANSWER_SECONDS, left))
            if answer.timed_out or (answer.error is not None and is_pacing(*answer.error)):
                violations += 1
                pacing.violated()
                continue
            pacing.answered()
            if answer.error is not None:
                code, text = answer.error
                kind = "daily bars" if bar_size == "1 day" else f"{bar_size} bars"
                raise IntentFailed(
                    "market-data", f"IB refused {kind} of {label} over {duration!r}: {code} {text}"
                )
            return answer.bars
