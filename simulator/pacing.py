"""IB's pacing of historical-data requests, as the server enforces it.

A request breaks IB's limits when it repeats an identical request within 15 seconds, is the
sixth (or more) for the same contract, exchange and tick type within 2 seconds, or the 61st
within ten minutes. IB answers it with error 162 ("Historical data request pacing violation"),
or sometimes not at all (fault `pacing_silent`). Written apart from the worker's throttle
(worker/trading/pacing.py) so that each checks the other. Real time (monotonic), as IB's is:
moving the simulator's clock does not reset it.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

VIOLATION = "Historical Market Data Service error message:Historical data request pacing violation"

Key = tuple[str, ...]  # everything of a request: identical requests have equal keys
Series = tuple[str, str, str]  # contract, exchange, tick type


@dataclass
class HistoryLog:
    """The historical requests the server answered in the last ten minutes."""

    clock: Callable[[], float] = time.monotonic
    answered: deque[tuple[float, Key, Series]] = field(default_factory=deque)
    violations: int = 0

    def breaks_limits(self, key: Key, series: Series) -> bool:
        now = self.clock()
        while self.answered and now - self.answered[0][0] >= 600:
            self.answered.popleft()
        if len(self.answered) >= 60:
            return True
        if any(k == key and now - at < 15 for at, k, _ in self.answered):
            return True
        return sum(1 for at, _, s in self.answered if s == series and now - at < 2) >= 5

    def answer(self, key: Key, series: Series) -> bool:
        """Whether the request may be answered (then it is logged); False: a violation."""
        if self.breaks_limits(key, series):
            self.violations += 1
            return False
        self.answered.append((self.clock(), key, series))
        return True


_logs: weakref.WeakKeyDictionary[object, HistoryLog] = weakref.WeakKeyDictionary()


def log_of(server: object) -> HistoryLog:
    """The server's log (one account: every client's requests count together)."""
    if server not in _logs:
        _logs[server] = HistoryLog()
    return _logs[server]
