"""The worker's JSON log lines as `make up` shows them at a terminal."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from deploy.logview import colour_wanted, readable

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def line(**fields) -> str:
    return json.dumps({"time": "2026-03-02T14:05:09.123456+00:00", "logger": "worker", **fields})


def test_time_severity_intent_and_message():
    shown = readable(line(severity="INFO", message="intent ping-1 succeeded", intentId="ping-1"))
    assert re.fullmatch(r"\d\d:\d\d:09\.123 INFO     \[ping-1\] intent ping-1 succeeded", shown)


def test_without_an_intent_and_with_more_lines():
    shown = readable(line(severity="ERROR", message="boom\nTraceback line\n  more"))
    first, second, third = shown.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:09\.123 ERROR    boom", first)
    assert second.strip() == "Traceback line" and second.startswith(" " * 22)
    assert third.endswith("  more")


def test_colour_marks_severity_and_intent_and_nothing_is_lost():
    shown = readable(line(severity="WARNING", message="slow", intentId="x"), colour=True)
    assert "\033[33mWARNING" in shown and "\033[36m[x]" in shown
    assert ANSI.sub("", shown).endswith("WARNING  [x] slow")


def test_lines_that_are_not_json_log_entries_pass_unchanged():
    for text in ("[2026-03-02 14:05:09 +0000] [7] [INFO] Starting gunicorn", "[1, 2]", "", "{"):
        assert readable(text) == text
    assert readable(json.dumps({"severity": "INFO"})) == json.dumps({"severity": "INFO"})


def test_no_colour_when_asked_not_to(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert colour_wanted(True) and not colour_wanted(False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)


@given(st.text() | st.dictionaries(st.text(), json_values).map(json.dumps), st.booleans())
def test_any_line_is_shown_and_nothing_raises(text, colour):
    shown = readable(text, colour)
    assert isinstance(shown, str)
    if "\n" not in text and not text.lstrip().startswith("{"):
        assert ANSI.sub("", shown) == text
