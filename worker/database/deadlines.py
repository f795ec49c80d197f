"""How long a Firestore call may take, and how it is retried within that: every deadline of the
worker, the publisher and the dashboard is named here, and one retry serves them all.

A deadline covers a call with its retries: a transient error (unavailable, deadline exceeded,
internal) is tried again with backoff while time is left, never past it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from google.api_core.retry import Retry

# The worker's deadline of one call (FIRESTORE_TIMEOUT_SECONDS); also a CLI's lookup, `config
# apply`/`show`, and wait_for_result's look at the record before it subscribes.
CALL_SECONDS = 10.0
# A page someone waits on: the dashboard (DASHBOARD_FIRESTORE_TIMEOUT_SECONDS).
PAGE_SECONDS = 5.0
# The CLI's scan of recently finished intents (`publisher results`).
SCAN_SECONDS = 30.0
# The first writes to an emulator that has just started (the local stack's seeded config).
EMULATOR_START_SECONDS = 60.0

# The backoff between tries: 0.1 s doubling to 1 s.
FIRST_WAIT, LONGEST_WAIT, GROWTH = 0.1, 1.0, 2.0


class CallOptions(TypedDict):
    """The keyword arguments every Firestore call gets."""

    retry: Retry
    timeout: float


def retry_within(seconds: float) -> Retry:
    """The one retry policy: transient errors tried again with backoff within `seconds`."""
    from google.api_core.retry import Retry

    return Retry(initial=FIRST_WAIT, maximum=LONGEST_WAIT, multiplier=GROWTH, timeout=seconds)


def call_options(seconds: float) -> CallOptions:
    """`retry` and `timeout` for a call that must be done within `seconds`."""
    return {"retry": retry_within(seconds), "timeout": seconds}
