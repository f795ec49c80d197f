"""How `python -m deploy up|demo` reacts to Ctrl-C, SIGTERM and SIGHUP: the first one stops the
stack, every later one only says that it is stopping (nothing cuts the stop short)."""

from __future__ import annotations

import contextlib
import os
import signal


class Interrupted(KeyboardInterrupt):
    """The first stop signal, raised once in the main thread."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _say(message: str) -> None:
    # os.write, not print: a handler can run in the middle of another print.
    with contextlib.suppress(OSError):
        os.write(2, f"{message}\n".encode())


def _already_stopping(signum: int, frame: object) -> None:
    _say(f"[stack] {signal.Signals(signum).name}: already stopping, please wait")


_already_stopping.harmless = True  # type: ignore[attr-defined]  # see signals_deferred


class StopSignals:
    """Install with `install()`; `wait()` sleeps until the first signal raises Interrupted."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._signals: list[int] = []

    def install(self) -> StopSignals:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            if sig == signal.SIGINT and signal.getsignal(sig) == signal.SIG_IGN:
                continue  # started as a background job of a shell: Ctrl-C is not for us
            signal.signal(sig, self._handle)
            self._signals.append(sig)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:  # a second signal while this handler runs
            _already_stopping(signum, frame)
            return
        self.received = signum
        for sig in self._signals:
            signal.signal(sig, _already_stopping)
        _say(f"\n[stack] {signal.Signals(signum).name}: stopping ...")
        raise Interrupted(signum)

    def wait(self) -> None:
        while True:
            signal.pause()
