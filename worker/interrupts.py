"""Signals that interrupt an intent: its deadline (SIGALRM) and the instance's shutdown (SIGTERM).

Both raise BaseExceptions in the main thread, where gunicorn's sync worker runs the request, so
that `except Exception` in intent code cannot swallow them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from worker.exceptions import DeadlineExceeded, ShuttingDown

_in_request = threading.Event()
_interruptible = threading.Event()
_shutting_down = threading.Event()
_on_idle_shutdown: list[Callable[[], None]] = []
_installed = False


def install(on_idle_shutdown: Callable[[], None]) -> None:
    """Handle SIGTERM in this process (call from the serving process, not before a fork)."""
    global _installed
    _on_idle_shutdown.append(on_idle_shutdown)
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        if callable(previous):
            previous(signum, frame)  # gunicorn: stop accepting, exit after this request
        _shutting_down.set()
        if _interruptible.is_set():
            _interruptible.clear()  # once: recording the outcome and cleaning up must finish
            raise ShuttingDown("the instance is shutting down (SIGTERM)")
        if not _in_request.is_set():
            _idle_shutdown()

    signal.signal(signal.SIGTERM, handler)
    _installed = True


def _idle_shutdown() -> None:
    for stop in _on_idle_shutdown:
        stop()


@contextmanager
def request() -> Iterator[None]:
    """Mark a request: a SIGTERM during it stops the warm gateway once the request ends."""
    _in_request.set()
    try:
        yield
    finally:
        _in_request.clear()
        if _shutting_down.is_set():
            _idle_shutdown()


@contextmanager
def interruptible() -> Iterator[None]:
    """Mark the span in which SIGTERM interrupts the running intent (raises ShuttingDown)."""
    if _shutting_down.is_set():
        raise ShuttingDown("the instance is shutting down (SIGTERM)")
    _interruptible.set()
    try:
        yield
    finally:
        _interruptible.clear()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlineExceeded in this (main) thread after `seconds`."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread; tests calling from threads run unbounded
        return

    def expire(signum: int, frame: Any) -> None:
        raise DeadlineExceeded(f"the intent deadline of {seconds:g} s passed")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
