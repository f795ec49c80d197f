"""The one retry of the Firestore layer (worker/database/deadlines.py) on a fake clock: transient
errors are tried again with backoff, within the deadline and never past it; anything else is
tried once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.api_core import exceptions
from google.api_core.retry import retry_base, retry_unary
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.database import deadlines
from worker.database.deadlines import call_options, retry_within


class Clock:
    """time.monotonic and time.sleep as google.api_core's retry sees them: sleeping moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    seen = SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep)
    monkeypatch.setattr(retry_unary, "time", seen)
    monkeypatch.setattr(retry_base, "time", seen)
    return fake


def failing(times: int, error: Exception):
    calls: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "answered"

    return call, calls


TRANSIENT = [
    exceptions.ServiceUnavailable("down"),
    exceptions.InternalServerError("oops"),
    exceptions.TooManyRequests("slow down"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
def test_a_transient_error_is_tried_again_with_backoff(clock: Clock, error: Exception) -> None:
    call, calls = failing(3, error)
    assert retry_within(10.0)(call)() == "answered"
    assert len(calls) == 4 and len(clock.waits) == 3
    assert all(0 <= w <= deadlines.LONGEST_WAIT for w in clock.waits)


@pytest.mark.parametrize(
    "error",
    [
        exceptions.InvalidArgument("bad"),
        exceptions.PermissionDenied("no"),
        exceptions.AlreadyExists("there"),
        exceptions.DeadlineExceeded("the call's own timeout"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_anything_else_is_tried_once(clock: Clock, error: Exception) -> None:
    call, calls = failing(1, error)
    with pytest.raises(type(error)):
        retry_within(10.0)(call)()
    assert len(calls) == 1 and clock.waits == []


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.05, max_value=120.0))
def test_retrying_never_waits_past_the_deadline(seconds: float) -> None:
    fake = Clock()
    seen = SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retry_unary, "time", seen)
        patch.setattr(retry_base, "time", seen)
        call, calls = failing(10**9, exceptions.ServiceUnavailable("down"))
        started = fake.now
        with pytest.raises(exceptions.RetryError):
            retry_within(seconds)(call)()
    assert fake.now - started <= seconds  # it gave up before sleeping past the deadline
    assert len(calls) == len(fake.waits) + 1


def test_call_options_carry_one_deadline_for_the_call_and_its_retries() -> None:
    options = call_options(7.5)
    assert options["timeout"] == 7.5 and options["retry"].timeout == 7.5


def test_the_named_deadlines_are_the_defaults_of_their_settings() -> None:
    from dashboard.settings import Settings as DashboardSettings
    from publisher.records import Records
    from publisher.trading_config import ConfigStore
    from worker.settings import Settings

    assert Settings().firestore_timeout_seconds == deadlines.CALL_SECONDS
    assert Settings.from_env({}).firestore_timeout_seconds == deadlines.CALL_SECONDS
    assert DashboardSettings.from_env({}).firestore_timeout == deadlines.PAGE_SECONDS
    assert Records(client=object()).timeout == deadlines.PAGE_SECONDS
    assert ConfigStore(client=object()).timeout == deadlines.CALL_SECONDS
