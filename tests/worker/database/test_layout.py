"""An intent record's key and statuses (worker/database/layout.py), the names the publisher and
the dashboard read, agree with the worker's own."""

from __future__ import annotations

from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from worker.database import STATUSES, TERMINAL, record_key
from worker.message import ID_PATTERN


def test_the_terminal_statuses_are_defined_once_and_are_a_result_s() -> None:
    from worker import record_types, results

    assert record_types.TERMINAL is TERMINAL  # one definition, not two kept in step
    assert set(get_args(results.ResultStatus)) == set(TERMINAL)
    assert set(STATUSES) == {"running", "received", *TERMINAL}


@given(st.sampled_from(["paper", "live"]), st.from_regex(ID_PATTERN, fullmatch=True))
def test_a_record_key_gives_back_its_mode_and_id(mode: str, intent_id: str) -> None:
    key = record_key(mode, intent_id)
    assert key.split(":", 1) == [mode, intent_id]
    assert key not in (".", "..") and not key.startswith("__")
