"""IB's pacing limits for historical data, kept on the client: how long a request must wait.

IB's documented limits (TWS API, "Historical Data Limitations", pacing violations for bars of
30 seconds or less, which the worker applies to every bar size, as IB may):
- no identical request within 15 seconds;
- not six or more requests for the same contract, exchange and tick type within 2 seconds
  (so at most 5: one under IB's limit);
- no more than 60 requests within any 10 minutes.

`Pacing` is pure: it is told the time (an injectable clock) and answers how long to wait; the
caller sleeps (or gives up when that would pass its deadline) and records the request it sends.
A violation IB reported anyway (another client of the same gateway, a restarted worker) holds
every request for `PENALTY_SECONDS` (doubling while violations repeat).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# IB times a request when it arrives, the throttle when it is sent: each interval is kept a
# second longer than IB's, so that a request delayed on its way (a loaded machine, the network)
# cannot make the next one look early to IB (a stack test saw one 162 without it).
MARGIN_SECONDS = 1.0
WINDOW_SECONDS = 600.0 + MARGIN_SECONDS
MAX_IN_WINDOW = 60
IDENTICAL_SECONDS = 15.0 + MARGIN_SECONDS
BURST_SECONDS = 2.0 + MARGIN_SECONDS
MAX_IN_BURST = 5  # IB: "six or more ... within two seconds" is a violation
PENALTY_SECONDS = IDENTICAL_SECONDS  # the violating request is asked again after it
MAX_PENALTY_SECONDS = 120.0


@dataclass(frozen=True)
class HistoryRequest:
    """What identifies a historical-data request for IB's pacing rules."""

    contract: str  # conId (or symbol) of the contract
    exchange: str
    what_to_show: str  # IB's tick type: TRADES, MIDPOINT, BID, ASK, ...
    end: str = ""
    duration: str = ""
    bar_size: str = ""
    use_rth: bool = True

    @property
    def series(self) -> tuple[str, str, str]:
        """The contract, exchange and tick type: IB's 2-second rule counts these together."""
        return (self.contract, self.exchange, self.what_to_show)


class Pacing:
    """The requests granted so far and how long the next one must wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sent: deque[tuple[float, HistoryRequest]] = deque()
        self._held_until = 0.0
        self._penalty = 0.0

    def wait(self, request: HistoryRequest) -> float:
        """Seconds until `request` may go without breaking a limit (0: now)."""
        now = self.clock()
        self._forget(now)
        waits = [self._held_until - now]
        times = [at for at, _ in self._sent]
        if len(times) >= MAX_IN_WINDOW:
            waits.append(times[len(times) - MAX_IN_WINDOW] + WINDOW_SECONDS - now)
        same = [
            at for at, r in self._sent if r.series == request.series and now - at < BURST_SECONDS
        ]
        if len(same) >= MAX_IN_BURST:
            waits.append(same[len(same) - MAX_IN_BURST] + BURST_SECONDS - now)
        identical = [at for at, r in self._sent if r == request]
        if identical:
            waits.append(identical[-1] + IDENTICAL_SECONDS - now)
        return max(0.0, *waits)

    def record(self, request: HistoryRequest) -> None:
        """Note `request` as sent now."""
        self._sent.append((self.clock(), request))

    def violated(self) -> float:
        """IB reported a pacing violation: hold every request for a penalty that doubles while
        violations repeat (reset by a request answered in time, `answered`); the penalty."""
        self._penalty = min(MAX_PENALTY_SECONDS, self._penalty * 2 or PENALTY_SECONDS)
        self._held_until = max(self._held_until, self.clock() + self._penalty)
        return self._penalty

    def answered(self) -> None:
        """A request went through: the next violation starts from the first penalty again."""
        self._penalty = 0.0

    def _forget(self, now: float) -> None:
        while self._sent and now - self._sent[0][0] >= WINDOW_SECONDS:
            self._sent.popleft()
