"""Links to an intent's page (issue 25): for every id the contract allows, the link a page
writes, resolved the way a browser resolves a path (dot segments removed, `%2E` counted as a
dot), is still that intent's page. `.` and `..` are refused by the contract (README, message
fields): no encoding of them survives a browser's resolution."""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dashboard import params
from dashboard.app import create_app
from dashboard.settings import Settings
from publisher.records import MODES
from tests.dashboard.memory import MemoryRecords
from worker.message import ID_PATTERN

BASE = "https://dashboard.example/intents/paper/some-id"  # the page the link is on


def resolved(link: str) -> str:
    """The path a browser requests for `link` on BASE: RFC 3986's dot-segment removal, after
    which WHATWG's URL parser still treats a `%2e` segment as a dot (so refuse any)."""
    path = urlsplit(urljoin(BASE, link)).path
    assert all(unquote(s).lower() not in (".", "..") for s in path.split("/")), path
    return path


APP = create_app(Settings(project="test-project"), MemoryRecords())


def _links_to_its_page(intent_id: str, mode: str) -> None:
    with APP.test_request_context():
        from flask import url_for

        link = url_for("intents.detail", mode=mode, intent_id=intent_id)
    endpoint, args = APP.url_map.bind("dashboard.example").match(resolved(link))
    assert (endpoint, args) == ("intents.detail", {"mode": mode, "intent_id": intent_id})


@given(st.from_regex(ID_PATTERN, fullmatch=True), st.sampled_from(MODES))
@example(intent_id="...", mode="paper")
@example(intent_id="a..", mode="live")
def test_every_valid_id_links_to_its_own_page(intent_id, mode) -> None:
    _links_to_its_page(intent_id, mode)


@pytest.mark.parametrize("intent_id", [".", "..", "%2e", ".%2E", "...", "._", ":.."])
def test_an_id_of_dots_is_either_refused_or_links_to_its_page(intent_id) -> None:
    if ID_PATTERN.fullmatch(intent_id):
        _links_to_its_page(intent_id, "paper")


@pytest.mark.parametrize("intent_id", [".", ".."])
def test_dot_ids_are_refused_by_the_contract(intent_id) -> None:
    assert ID_PATTERN.fullmatch(intent_id) is None
    with pytest.raises(params.BadInput, match=r"not \. or \.\."):
        params.intent_id(intent_id)


@pytest.mark.parametrize("intent_id", [".", ".."])
def test_the_form_refuses_dot_ids(offline, intent_id) -> None:
    from tests.dashboard.support import form_of

    form = form_of(offline.client.get("/publish?intent=ping").get_data(as_text=True))
    response = offline.client.post("/publish", data={**form, "mode": "paper", "id": intent_id})
    assert response.status_code == 400
    assert offline.published == []
