"""SIGTERM handling: it interrupts a running intent once, never the recording and cleanup after."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from worker import interrupts


@pytest.fixture
def stops(monkeypatch):
    """A fresh interrupts with a SIGTERM handler of its own; the test's handler is restored."""
    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(interrupts, "_installed", False)
    monkeypatch.setattr(interrupts, "_on_idle_shutdown", [])
    for name in ("_in_request", "_interruptible", "_shutting_down"):
        monkeypatch.setattr(interrupts, name, threading.Event())
    calls: list[str] = []
    interrupts.install(on_idle_shutdown=lambda: calls.append("stop"))
    yield calls
    signal.signal(signal.SIGTERM, previous)


def sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_interrupts_the_intent_once_and_cleanup_runs_to_the_end(stops):
    cleaned = False
    with interrupts.request():
        try:
            with pytest.raises(interrupts.ShuttingDown), interrupts.interruptible():
                sigterm()
        finally:
            sigterm()  # a second SIGTERM while the outcome is recorded does not interrupt it
            cleaned = True
        assert stops == []  # the gateway stops after the request, not in the middle of it
    assert cleaned
    assert stops == ["stop"]


def test_sigterm_between_claim_and_run_stops_the_intent_before_it_starts(stops):
    with interrupts.request():
        sigterm()
        with pytest.raises(interrupts.ShuttingDown), interrupts.interruptible():
            pytest.fail("the intent must not start after SIGTERM")
    assert stops == ["stop"]


def test_sigterm_while_idle_stops_the_warm_gateway_at_once(stops):
    sigterm()
    assert stops == ["stop"]
