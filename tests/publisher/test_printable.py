"""Control and format characters from the records (issue 25) are escaped in what the CLI prints
(`show`, `results`, `publish --wait`) and by publisher/printable.py itself."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from publisher import cli, views
from publisher.printable import ESCAPED, visible

HOSTILE = "ok\u202egnp.exe\x00\x1b[31mred\u2028\u2066x\u2069\nforged line"
SHOWN = r"ok\u202egnp.exe\x00\x1b[31mred\u2028\u2066x\u2069\nforged line"
AT = datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)


def _raw(text: str) -> list[str]:
    """Characters that should have been escaped (the lines' own newlines aside)."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ESCAPED]


def test_visible_escapes_what_it_must_and_keeps_the_rest() -> None:
    assert visible(HOSTILE) == SHOWN
    assert visible("a\nb\tc", keep="\n") == "a\nb\\tc"
    assert visible("Zürich 日本 😀 a\u00a0b") == "Zürich 日本 😀 a\u00a0b"
    assert visible("\ud800") == "\\ud800"  # a lone surrogate could not even be encoded


@given(st.text())
def test_visible_leaves_no_such_character_and_is_stable(text) -> None:
    shown = visible(text)
    assert not any(unicodedata.category(c) in ESCAPED for c in shown)
    assert visible(shown) == shown
    assert shown.encode("utf-8").decode("utf-8") == shown


def _result(text: str) -> dict:
    return {
        "intent": "ping",
        "id": "ctl-1",
        "tradingMode": "paper",
        "status": "failed",
        "attempts": 1,
        "finishedAt": AT.isoformat(),
        "error": {"code": "bad", "message": text},
        "result": {
            text: text,
            "orders": [{"orderRef": text, "symbol": text, "action": "BUY", "quantity": 1}],
        },
    }


def test_show_prints_control_characters_escaped() -> None:
    record = {
        **_result(HOSTILE),
        "requestedBy": f"dashboard:{HOSTILE}",
        "params": {HOSTILE: [HOSTILE], "n": {"x": HOSTILE}},
    }
    events = [{"type": "failed", "at": AT, "message": HOSTILE, "code": HOSTILE}]
    text = views.show_text(record, events)
    assert _raw(text) == []
    assert f"requested by  dashboard:{SHOWN}" in text
    assert "forged line" not in text.splitlines()  # a newline in a value starts no line
    assert text.count("\n") == views.show_text({**record, **_plain(record)}, events).count("\n")


def _plain(record: dict) -> dict:
    return {"requestedBy": "x", "params": {"a": ["b"], "n": {"x": "c"}}}


def test_results_and_publish_wait_print_control_characters_escaped() -> None:
    listed = cli._listed(_result(HOSTILE))
    assert _raw(listed) == [] and SHOWN[:40] in listed
    readable = views.result_text(_result(HOSTILE))
    assert _raw(readable) == [] and f"error: {SHOWN}" in readable


@given(st.text(max_size=30))
def test_any_text_prints_without_raw_control_characters(text) -> None:
    record = {**_result(text), "requestedBy": text, "params": {text: text}}
    for printed in (
        views.show_text(record, [{"type": text, "at": AT, "message": text}]),
        views.result_text(_result(text)),
        cli._listed(_result(text)),
    ):
        assert _raw(printed) == []
