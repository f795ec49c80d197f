"""The dashboard's pages through Flask's test client, on the real emulators and worker."""

from __future__ import annotations

import re

import pytest

from dashboard.security import CSP
from publisher.client import publish_intent
from tests.support import unique
from worker import names

PAGES = (
    "/intents",
    "/publish",
    "/publish?intent=allocation",
    "/holdings",
    "/holdings?mode=live",
    "/account",
    "/schedules",
    "/config",
    "/config?mode=live",
)


def _ran(results, intent: str, params: dict | None = None) -> dict:
    intent_id = publish_intent(intent, params, id=unique(intent))
    result = results.for_id(intent_id, timeout=60)
    assert result["status"] == "succeeded", result
    return result


def test_the_list_is_rendered_by_the_server_with_links_to_each_detail(client, results) -> None:
    result = _ran(results, "ping")
    html = client.get("/intents").get_data(as_text=True)
    link = f'href="/intents/paper/{result["id"]}"'
    assert link in html
    detail = client.get(f"/intents/paper/{result['id']}")
    assert detail.status_code == 200
    page = detail.get_data(as_text=True)
    assert result["id"] in page and "succeeded" in page
    for kind in ("received", "claimed", "finished", "result published"):
        assert f'<span class="ev-type">{kind}</span>' in page
    assert detail.headers["X-Terminal"] == "1"


def test_filters_and_paging(client, results) -> None:
    first, second = _ran(results, "ping"), _ran(results, "ping")
    page = client.get("/intents?intent=ping&status=succeeded&mode=paper&size=10")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index(second["id"]) < html.index(first["id"])  # newest first
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    kinds = re.findall(r'<td class="idcell">.*?</td>\s*<td>([^<]*)</td>', body, re.S)
    assert len(kinds) >= 2 and set(kinds) == {"ping"}  # the filter holds: only pings listed
    older = re.search(r'href="(/intents\?[^"]*after=[^"]+)"', html)
    if older:  # more than one page of pings in this session
        assert client.get(older.group(1).replace("&amp;", "&")).status_code == 200
    one = client.get(f"/intents?intent=ping&size=10&after=paper:{second['id']}")
    assert second["id"] not in one.get_data(as_text=True).split("<tbody>", 1)[-1]
    assert first["id"] in one.get_data(as_text=True)


def test_the_fragments_update_the_list_and_the_detail(client, results) -> None:
    result = _ran(results, "ping")
    rows = client.get("/intents", headers={"X-Fragment": "1"})
    body = rows.get_data(as_text=True)
    assert rows.status_code == 200 and "<html" not in body and result["id"] in body
    live = client.get(f"/intents/paper/{result['id']}", headers={"X-Fragment": "1"})
    assert live.headers["X-Terminal"] == "1" and "<html" not in live.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/intents/paper/no-such-intent", "No intent no-such-intent in paper."),
        ("/intents/demo/abc", "mode: &#39;demo&#39; is not one of paper, live"),
        ("/intents/paper/bad%20id", "is not an intent id"),
        ("/nothing-here", "There is no page at /nothing-here."),
    ],
)
def test_unknown_ids_and_pages_are_404_with_a_message(client, path, message) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/intents?status=bogus", "status: &#39;bogus&#39; is not one of"),
        ("/intents?size=1000", "size: &#39;1000&#39; is not one of 10, 25, 50, 100"),
        ("/intents?from=2026-13-01", "from: &#39;2026-13-01&#39; is not a date"),
        ("/intents?after=paper:gone-intent", "is gone: showing the newest instead"),
        ("/intents?x=1", "unknown parameter &#39;x&#39;"),
        ("/publish?intent=pong", "intent: &#39;pong&#39; is not one of"),
        ("/holdings?mode=demo", "mode: &#39;demo&#39; is not one of"),
        ("/account?mode=", ""),
        ("/config?mode=paper&mode=live", "mode: give it once, not 2 times"),
        ("/schedules?page=2", "unknown parameter &#39;page&#39;"),
        ("/intents/paper/abc?raw=1", "unknown parameter &#39;raw&#39;"),
    ],
)
def test_bad_query_parameters_get_a_message_never_a_500(client, path, message) -> None:
    response = client.get(path)
    assert response.status_code in (200, 400)
    assert message in response.get_data(as_text=True)
    if message:
        assert response.status_code == 400


def test_every_response_carries_the_content_security_policy(client) -> None:
    paths = [
        *PAGES,
        "/intents/paper/nope",
        "/nothing",
        "/static/app.css",
        "/static/app.js",
        "/healthz",
        "/intents?status=bogus",
    ]
    for path in paths:
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.status_code < 500, path
    posted = client.post("/publish", data={"intent": "ping"})
    assert posted.headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in CSP and "default-src 'none'" in CSP


def test_pages_use_no_inline_script_or_style(client) -> None:
    for path in PAGES:
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers
        assert "http://" not in html.replace("http://www.w3.org", ""), path  # nothing external
        assert "https://" not in html, path


def test_holdings_account_config_and_schedules_show_the_data(
    client, results, positions_root
) -> None:
    _ran(results, "allocation")
    summary = _ran(results, "summary")
    holdings = client.get("/holdings").get_data(as_text=True)
    assert "static-weights" in holdings and "SPY" in holdings and "TLT" in holdings
    assert summary["id"] in holdings
    account = client.get("/account").get_data(as_text=True)
    assert '<svg class="chart"' in account and "NetLiquidation" in account
    assert summary["result"]["account"] in account
    config = client.get("/config").get_data(as_text=True)
    assert "static-weights" in config and "maxNotionalPerOrder" in config
    schedules = client.get("/schedules").get_data(as_text=True)
    assert "morning-summary" in schedules and "America/New_York" in schedules
    assert f"<code>{names.INTENTS_TOPIC}</code>" in schedules
    assert re.search(r"Next runs</h3>\s*<ol class=\"runs\"><li><time datetime=\"20", schedules)


def test_no_credential_is_ever_rendered(client, db) -> None:
    secret = "FIXTURE-NOT-A-SECRET-7f3a"
    doc = db.collection("config").document("live")
    before = doc.get().to_dict()
    doc.set({"gateway": {"password": secret, "apiToken": secret}, "note": "ok"})
    try:
        page = client.get("/config?mode=live").get_data(as_text=True)
    finally:
        doc.set(before or {})
    assert secret not in page
    assert "password" in page and "••••••" in page and "ok" in page


def test_firestore_paused_gives_a_clear_message_and_recovers(stack, client) -> None:
    with stack.firestore_paused():
        for path in ("/intents", "/intents/paper/abc", "/holdings", "/account", "/config"):
            response = client.get(path)
            assert response.status_code == 503, path
            html = response.get_data(as_text=True)
            assert "Firestore is not answering" in html and "Traceback" not in html
            assert "data-retry-ms" in html  # the page tries again by itself
        fragment = client.get("/intents", headers={"X-Fragment": "1"})
        assert fragment.status_code == 503 and "<html" not in fragment.get_data(as_text=True)
    assert client.get("/intents").status_code == 200
