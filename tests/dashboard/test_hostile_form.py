"""The publish form against hostile submissions (issue 25): JSON nested thousands deep, fields
given twice. Each gets a 400 naming the problem and nothing is published."""

from __future__ import annotations

from html import unescape

import pytest
from werkzeug.datastructures import MultiDict

from dashboard import forms
from dashboard.routes.publish import _repeated
from tests.dashboard.support import form_of


def _form(client, intent: str) -> dict[str, str]:
    page = client.get(f"/publish?intent={intent}")
    assert page.status_code == 200
    return {**form_of(page.get_data(as_text=True)), "mode": "paper"}


@pytest.mark.parametrize(
    "steps",
    ["[" * 5000, "[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000, "[" * 40 + "]" * 40],
)
def test_json_nested_too_deep_is_a_400_and_nothing_is_published(offline, steps) -> None:
    assert len(steps) < forms.MAX_FIELD
    response = offline.client.post(
        "/publish", data={**_form(offline.client, "batch"), "p.steps": steps}
    )
    assert response.status_code == 400
    assert f"nested deeper than {forms.MAX_DEPTH} levels" in response.get_data(as_text=True)
    assert offline.published == []


def test_json_as_deep_as_allowed_is_read() -> None:
    [steps] = forms.fields_for({"properties": {"steps": {"type": "array"}}})
    nested = "[" * forms.MAX_DEPTH + "]" * forms.MAX_DEPTH
    assert forms.depth(forms.parse([steps], MultiDict([("p.steps", nested)]))["steps"]) == 32


@pytest.mark.parametrize(
    ("intent", "name", "first", "second"),
    [
        ("ping", "mode", "paper", "live"),
        ("ping", "intent", "ping", "allocation"),
        ("ping", "id", "mine-1", "mine-2"),
        ("ping", "ttl", "60", "600"),
        ("ping", "confirm", "LIVE", "LIVE"),
        ("ping", "p.gateway", "on", "on"),
        ("allocation", "p.dryRun", "on", "on"),
        ("allocation", "p.strategies", "a", "b"),
        ("allocation", "p.orderProperties.tif", "DAY", "GTC"),
        ("summary", "p.account", "DU1", "DU2"),
        ("batch", "p.steps", "[]", "[]"),
    ],
)
def test_a_form_field_given_twice_is_refused(offline, intent, name, first, second) -> None:
    form = _form(offline.client, intent)
    data = MultiDict(
        [*((k, v) for k, v in form.items() if k != name), (name, first), (name, second)]
    )
    response = offline.client.post("/publish", data=data)
    assert response.status_code == 400
    assert f"{name!r}: give it once, not 2 times" in unescape(response.get_data(as_text=True))
    assert offline.published == []


def test_only_a_multiple_choice_may_be_given_more_than_once() -> None:
    fields = forms.fields_for(
        {"properties": {"tags": {"type": "array", "items": {"enum": ["a", "b"]}}, "n": {}}}
    )
    data = MultiDict([("p.tags", "a"), ("p.tags", "b"), ("p.n", "1"), ("p.n", "2"), ("id", "x")])
    assert _repeated(data, fields) == ["'p.n': give it once, not 2 times"]
