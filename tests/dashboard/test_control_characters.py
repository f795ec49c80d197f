"""Control and format characters from the records (issue 25): a bidi override (U+202E), NUL,
ESC, a line separator in requestedBy, params, error texts and events are shown escaped on the
list and detail pages, never written raw."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.printable import ESCAPED

HOSTILE = "ok\u202egnp.exe\x00\x1b[31mred\u2028\u2066x\u2069"
SHOWN = r"ok\u202egnp.exe\x00\x1b[31mred\u2028\u2066x\u2069"
RAW = re.compile("[\u202e\x00\x1b\u2028\u2066\u2069]")


def _hostile_record(records, intent_id: str = "ctl-1") -> None:
    at = datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
    records.add(
        "paper",
        intent_id,
        events=[{"type": "failed", "at": at, "message": HOSTILE, "code": HOSTILE}],
        intent="ping",
        status="failed",
        requestedBy=f"dashboard:{HOSTILE}",
        receivedAt=at,
        finishedAt=at,
        attempts=1,
        params={HOSTILE: HOSTILE, "list": [HOSTILE]},
        error={"code": "bad", "message": HOSTILE},
        result={"note": HOSTILE},
    )


@pytest.mark.parametrize("path", ["/intents", "/intents/paper/ctl-1"])
@pytest.mark.parametrize("fragment", [False, True])
def test_control_characters_are_shown_escaped(offline, path, fragment) -> None:
    _hostile_record(offline.records)
    response = offline.client.get(path, headers={"X-Fragment": "1"} if fragment else {})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert RAW.search(html) is None
    assert RAW.search(unescape(html)) is None  # not as character references either
    assert SHOWN in unescape(html)


@pytest.mark.parametrize("path", ["/intents/paper/x\u202ey", "/intents?mode=\u202e\x1b"])
def test_control_characters_of_the_url_are_shown_escaped_in_the_message(offline, path) -> None:
    response = offline.client.get(path)
    assert response.status_code in (400, 404)
    assert RAW.search(unescape(response.get_data(as_text=True))) is None


@given(st.text(min_size=1, max_size=30))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_in_a_record_renders_without_raw_control_characters(offline, text) -> None:

    _hostile_record(offline.records)
    offline.records.records["paper:ctl-1"].update(
        requestedBy=text, params={text: text}, error={"code": text, "message": text}
    )
    for path in ("/intents", "/intents/paper/ctl-1"):
        response = offline.client.get(path)
        assert response.status_code == 200
        page = unescape(response.get_data(as_text=True))
        assert not any(unicodedata.category(c) in ESCAPED - {"Cc"} for c in page)
        assert not any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in page)
