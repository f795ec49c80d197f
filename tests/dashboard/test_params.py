"""Every query parameter parser: valid input is taken as is, anything else is a BadInput with a
one-line message, never another exception (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from dashboard import params
from publisher.client import known_intents
from publisher.records import MODES, STATUSES
from worker.message import ID_PATTERN

text = st.text(max_size=300)


def _only_bad_input(parse, value) -> None:
    try:
        parse(value)
    except params.BadInput as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 400


@given(text)
@example("²")  # a digit to str.isdigit, not to int()
def test_mode_intent_status_size_cursor_and_id_refuse_cleanly(value) -> None:
    for parse in (
        params.mode,
        params.intent_name,
        lambda v: params.choice("status", v, STATUSES),
        params.size,
        params.cursor,
        params.intent_id,
        lambda v: params.day("from", v),
    ):
        _only_bad_input(parse, value)


@given(st.sampled_from(MODES))
def test_valid_modes(value) -> None:
    assert params.mode(value) == value


@given(st.sampled_from(known_intents()))
def test_valid_intents(value) -> None:
    assert params.intent_name(value) == value


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_valid_days_round_trip(value) -> None:
    assert params.day("from", value.isoformat()) == value


@given(st.from_regex(ID_PATTERN, fullmatch=True), st.sampled_from(MODES))
def test_valid_ids_and_cursors(intent_id, mode) -> None:
    assert params.intent_id(intent_id) == intent_id
    assert params.cursor(f"{mode}:{intent_id}") == f"{mode}:{intent_id}"


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (params.mode, "demo", "mode: 'demo' is not one of paper, live"),
        (params.intent_name, "pong", "intent: 'pong' is not one of"),
        (params.size, "7", "size: '7' is not one of 10, 25, 50, 100"),
        (params.size, "0025", "size: '0025' is not one of"),
        (params.cursor, "paper", "not a page cursor"),
        (params.cursor, "demo:x", "not a page cursor"),
        (params.intent_id, "a b", "is not an intent id"),
        (params.intent_id, "x" * 65, "is not an intent id"),
        (params.intent_id, "..", "is not an intent id"),
        (lambda v: params.day("to", v), "2026-02-30", "to: '2026-02-30' is not a date"),
        (lambda v: params.day("to", v), "20260101", "is not a date (YYYY-MM-DD)"),
        (lambda v: params.day("to", v), "1999-12-31", "outside 2000-2100"),
    ],
)
def test_messages_say_what_is_wrong(parse, value, message) -> None:
    with pytest.raises(params.BadInput, match=None) as caught:
        parse(value)
    assert message in str(caught.value)


@given(st.lists(st.tuples(st.text(max_size=20), text), max_size=8))
def test_list_filters_never_fail_on_any_query(pairs) -> None:
    found = params.list_filters(MultiDict(pairs))
    assert all(isinstance(e, str) and "\n" not in e for e in found.errors)
    query = found.query()
    assert query.limit in params.SIZES
    assert set(found.values) <= set(params.ListFilters.KEYS)


def test_list_filters_parse_and_build_the_query() -> None:
    found = params.list_filters(
        MultiDict(
            {
                "mode": "paper",
                "intent": "allocation",
                "status": "failed",
                "from": "2026-01-02",
                "to": "2026-01-03",
                "size": "50",
                "after": "paper:abc",
            }
        )
    )
    assert found.errors == []
    query = found.query()
    assert (query.mode, query.intent, query.status, query.limit, query.after) == (
        "paper",
        "allocation",
        "failed",
        50,
        "paper:abc",
    )
    assert query.since == datetime(2026, 1, 2, tzinfo=UTC)
    assert query.until == datetime(2026, 1, 4, tzinfo=UTC)  # `to` includes its whole day
    assert "after" not in found.link_args()  # filters carry over; the page starts again


def test_list_filters_name_every_problem_and_keep_the_good_filters() -> None:
    found = params.list_filters(
        MultiDict(
            [
                ("status", "bogus"),
                ("intent", "summary"),
                ("size", "7"),
                ("nope", "1"),
                ("mode", "paper"),
                ("mode", "live"),
                ("from", "2026-03-01"),
                ("to", "2026-02-01"),
                ("after", "x" * 201),
            ]
        )
    )
    text = " | ".join(found.errors)
    assert "status: 'bogus' is not one of" in text
    assert "size: '7'" in text
    assert "unknown parameter 'nope'" in text
    assert "mode: give it once, not 2 times" in text
    assert "from (2026-03-01) is after to (2026-02-01)" in text
    assert "after: longer than 200 characters" in text
    assert found.intent == "summary" and found.status is None and found.since is None


def test_empty_filters_mean_no_filter() -> None:
    found = params.list_filters(MultiDict({"status": "", "intent": "", "size": "10"}))
    assert found.errors == [] and found.status is None and found.size == 10


@given(st.lists(st.tuples(st.text(max_size=10), text), max_size=4))
def test_read_mode_never_fails(pairs) -> None:
    mode, errors = params.read_mode(MultiDict(pairs), "paper")
    assert mode in MODES
    assert all("\n" not in e for e in errors)
