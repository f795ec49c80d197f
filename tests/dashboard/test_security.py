"""dashboard/security.py's form checks as requests arrive, directly and through
`gcloud run services proxy` (the browser on localhost, the service on its run.app host)."""

from __future__ import annotations

import pytest
from flask import Flask

from dashboard.security import CSRF_COOKIE, Refused, check_csrf

TOKEN = "t" * 43
SERVICE = "ib-dashboard-abc123-ew.a.run.app"


def _check(headers: dict[str, str], form_token: str = TOKEN, cookie: str = TOKEN) -> None:
    app = Flask(__name__)
    with app.test_request_context(
        "/publish",
        method="POST",
        base_url=f"https://{SERVICE}",
        headers={**headers, "Cookie": f"{CSRF_COOKIE}={cookie}"},
    ):
        check_csrf(form_token)


def test_a_form_through_the_proxy_is_accepted_on_the_browser_s_same_origin_word() -> None:
    _check({"Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-origin"})
    _check({"Origin": f"https://{SERVICE}"})  # direct, an older browser without Sec-Fetch-Site
    _check({})  # no Origin at all (not a browser): the token alone


@pytest.mark.parametrize(
    ("headers", "form_token", "words"),
    [
        ({"Origin": "http://localhost:8080"}, TOKEN, "another site"),  # no same-origin word
        ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, TOKEN, "another"),
        ({"Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-site"}, TOKEN, "another"),
        ({"Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-origin"}, "", "token"),
        ({"Sec-Fetch-Site": "same-origin"}, "u" * 43, "token"),
    ],
)
def test_other_sites_and_missing_tokens_are_refused(headers, form_token, words) -> None:
    with pytest.raises(Refused, match=words):
        _check(headers, form_token)
