"""Publishing from the dashboard: CSRF, one publish per form submission, the live guard,
validation through the publisher library, and Pub/Sub being down."""

from __future__ import annotations

import threading

from tests.dashboard.support import form_of
from tests.support import record


def _form(client, intent: str = "ping") -> dict[str, str]:
    page = client.get(f"/publish?intent={intent}")
    assert page.status_code == 200
    return form_of(page.get_data(as_text=True))


def _published(tap, intent_id: str) -> list[tuple[dict, dict]]:
    return [(d, a) for d, a in tap.messages() if d.get("id") == intent_id]


def test_a_form_publishes_and_follows_the_intent(client, intents_tap, results) -> None:
    form = _form(client, "allocation")
    response = client.post("/publish", data={**form, "mode": "paper", "p.dryRun": "on"})
    assert response.status_code == 303
    intent_id = f"allocation-{form['submission']}"
    assert response.headers["Location"] == f"/intents/paper/{intent_id}?published=1"
    waiting = client.get(response.headers["Location"])
    assert waiting.status_code == 200  # before or after the worker recorded it
    [(data, attributes)] = _published(intents_tap, intent_id)
    assert data["params"]["dryRun"] is True and data["requestedBy"] == "dashboard"
    assert attributes["tradingMode"] == "paper"
    assert results.for_id(intent_id, timeout=60)["status"] == "succeeded"


def test_a_form_without_the_csrf_token_is_refused(make_client, intents_tap) -> None:
    client = make_client()
    form = _form(client)
    for data, headers in (
        ({**form, "csrf": "", "mode": "paper"}, {}),
        ({**form, "csrf": "x" * 43, "mode": "paper"}, {}),
        ({**form, "mode": "paper"}, {"Origin": "https://evil.example"}),
        ({**form, "mode": "paper"}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        response = client.post("/publish", data=data, headers=headers)
        assert response.status_code == 403
        html = response.get_data(as_text=True)
        assert "security token" in html or "from another site" in html
    stranger = make_client()  # no cookie at all, the token copied from someone else's form
    assert stranger.post("/publish", data={**form, "mode": "paper"}).status_code == 403
    assert _published(intents_tap, f"ping-{form['submission']}") == []


def test_double_submitting_a_form_publishes_once(client, intents_tap, results, db) -> None:
    form = {**_form(client), "mode": "paper"}
    answers = []

    def send() -> None:
        answers.append(client.post("/publish", data=form))

    clicks = [threading.Thread(target=send) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    again = client.post("/publish", data=form)  # and once more, later
    intent_id = f"ping-{form['submission']}"
    for response in [*answers, again]:
        assert response.status_code == 303
        assert response.headers["Location"] == f"/intents/paper/{intent_id}?published=1"
    assert len(_published(intents_tap, intent_id)) == 1
    assert len(results.all_for(intent_id, settle=3)) == 1
    assert record(db, intent_id)["messageIds"] and len(record(db, intent_id)["messageIds"]) == 1


def test_bad_params_are_named_and_nothing_is_published(client, intents_tap) -> None:
    form = {**_form(client, "collect-market-data"), "mode": "paper"}
    response = client.post("/publish", data={**form, "p.duration": "3 X", "p.instruments": "SPY"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "does not match" in html and 'aria-invalid="true"' in html
    assert 'value="3 X"' in html  # kept for correcting
    assert form["submission"] in html  # the same form: sending it again is one publish
    for extra, message in (
        ({"p.bogus": "1"}, "not a field of this intent"),
        ({"ttl": "0"}, "ttl: &#39;0&#39; is not a number of seconds"),
        ({"id": "bad id"}, "is not an intent id"),
        ({"submission": "abc"}, "no valid submission id"),
        ({"extra": "1"}, "unknown form field"),
        ({"mode": "demo"}, "mode: &#39;demo&#39; is not one of paper"),
        ({"intent": "pong"}, "intent: &#39;pong&#39; is not one of"),
    ):
        bad = client.post("/publish", data={**form, **extra})
        assert bad.status_code == 400, extra
        assert message in bad.get_data(as_text=True), extra
    assert [d for d, _ in intents_tap.messages() if d.get("intent") == "collect-market-data"] == []


def test_live_is_refused_without_the_typed_confirmation(make_client, intents_tap) -> None:
    client = make_client(modes=("paper", "live"))
    form = {**_form(client), "mode": "live"}
    for confirm in ("", "live", "yes"):
        response = client.post("/publish", data={**form, "confirm": confirm})
        assert response.status_code == 400
        assert "live needs confirmation: type LIVE" in response.get_data(as_text=True)
    assert _published(intents_tap, f"ping-{form['submission']}") == []
    done = client.post("/publish", data={**form, "confirm": "LIVE"})
    assert done.status_code == 303 and "/intents/live/" in done.headers["Location"]
    [(data, attributes)] = _published(intents_tap, f"ping-{form['submission']}")
    assert data["tradingMode"] == "live" and attributes["tradingMode"] == "live"


def test_live_needs_the_configured_phrase(make_client, intents_tap) -> None:
    client = make_client(modes=("paper", "live"), live_confirm="DU7654321")
    form = {**_form(client), "mode": "live"}
    refused = client.post("/publish", data={**form, "confirm": "LIVE"})
    assert refused.status_code == 400
    assert "the live confirmation phrase" in refused.get_data(as_text=True)
    assert "DU7654321" not in client.get("/publish").get_data(as_text=True)
    assert client.post("/publish", data={**form, "confirm": "DU7654321"}).status_code == 303


def test_live_is_refused_when_the_dashboard_is_for_paper_only(client, intents_tap) -> None:
    form = _form(client)
    page = client.get("/publish").get_data(as_text=True)
    assert 'value="live"' not in page and "Live trading is not enabled" in page
    response = client.post("/publish", data={**form, "mode": "live", "confirm": "LIVE"})
    assert response.status_code == 400
    assert "live trading is not enabled on this dashboard (DASHBOARD_MODES=paper)" in (
        response.get_data(as_text=True)
    )
    assert _published(intents_tap, f"ping-{form['submission']}") == []


def test_pubsub_down_is_said_and_the_same_form_publishes_once_it_is_back(
    stack, make_client, results
) -> None:
    client = make_client(publish_timeout=2.0)
    form = {**_form(client), "mode": "paper"}
    pubsub = stack.children["pubsub"]
    pubsub.pause()
    try:
        down = client.post("/publish", data=form)
    finally:
        pubsub.resume()
    assert down.status_code == 503
    html = down.get_data(as_text=True)
    assert "Pub/Sub did not take the message" in html and form["submission"] in html
    again = client.post("/publish", data=form)
    assert again.status_code == 303
    intent_id = f"ping-{form['submission']}"
    assert results.for_id(intent_id, timeout=60)["status"] == "succeeded"
    assert len(results.all_for(intent_id, settle=3)) == 1
