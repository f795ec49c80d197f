"""Who publishes (issue 25): requestedBy names the signed-in account only from a verified IAP JWT
(google-auth, the configured audience); an unsigned X-Goog-Authenticated-User-Email header, a
token for another audience, expired, from another issuer or signed by another key gives plain
`dashboard`. The keys are made here (cryptography) and handed to google-auth's verifier through
its transport interface: nothing reaches the network."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.auth import crypt, jwt

from dashboard import identity
from dashboard.settings import Settings, SettingsError
from tests.dashboard.support import form_of

AUDIENCE = "/projects/123456789012/locations/europe-west6/services/ib-dashboard"
EMAIL = "trader@example.com"


def _key(kid: str) -> tuple[crypt.Signer, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return crypt.ES256Signer.from_string(pem, key_id=kid), public.decode()


SIGNER, PUBLIC = _key("iap-key-1")
STRANGER, _ = _key("iap-key-1")  # same key id, another key


@dataclass
class Response:
    status: int
    data: bytes


class Keys:
    """google-auth's transport, answering the certs URL with the test's public key."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def __call__(self, url: str, method: str = "GET", **kwargs) -> Response:
        self.fetched.append(url)
        assert url == identity.CERTS_URL
        return Response(200, json.dumps({"iap-key-1": PUBLIC}).encode())


def token(signer=SIGNER, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": identity.ISSUER,
        "aud": AUDIENCE,
        "sub": "accounts.google.com:1234",
        "email": EMAIL,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(signer, payload).decode()


def _header(value: str) -> dict[str, str]:
    return {identity.JWT_HEADER: value}


def test_a_verified_token_names_the_account() -> None:
    keys = Keys()
    iap = identity.Iap(AUDIENCE, keys)
    assert identity.requested_by(iap, _header(token())) == f"dashboard:{EMAIL}"
    assert keys.fetched == [identity.CERTS_URL]


@pytest.mark.parametrize(
    ("what", "headers"),
    [
        ("no token", {}),
        (
            "the unsigned header only",
            {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{EMAIL}"},
        ),
        ("another audience", _header(token(aud="/projects/1/global/backendServices/2"))),
        ("expired", _header(token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))),
        ("another issuer", _header(token(iss="https://accounts.google.com"))),
        ("another key", _header(token(STRANGER))),
        ("no email", _header(token(email=None))),
        ("an email with a newline", _header(token(email=f"{EMAIL}\nx"))),
        ("garbage", _header("not.a.jwt")),
        ("unsigned (alg none)", _header("eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImEiLCJhdWQiOiJ4In0.")),
        ("a huge token", _header("a" * 100_000)),
    ],
)
def test_anything_else_is_plain_dashboard(what, headers) -> None:
    assert identity.requested_by(identity.Iap(AUDIENCE, Keys()), headers) == "dashboard", what


def test_without_an_audience_no_token_is_trusted() -> None:
    keys = Keys()
    assert identity.requested_by(identity.Iap("", keys), _header(token())) == "dashboard"
    assert keys.fetched == []


def test_keys_that_cannot_be_fetched_give_plain_dashboard() -> None:
    def down(url, method="GET", **kwargs):
        return Response(503, b"")

    assert identity.requested_by(identity.Iap(AUDIENCE, down), _header(token())) == "dashboard"


def test_the_audience_setting() -> None:
    assert Settings.from_env({"DASHBOARD_IAP_AUDIENCE": AUDIENCE}).iap_audience == AUDIENCE
    assert Settings.from_env({}).iap_audience == ""
    with pytest.raises(SettingsError, match="DASHBOARD_IAP_AUDIENCE"):
        Settings.from_env({"DASHBOARD_IAP_AUDIENCE": "a b"})


def _publish(offline, headers) -> dict:
    form = form_of(offline.client.get("/publish?intent=ping").get_data(as_text=True))
    response = offline.client.post("/publish", data={**form, "mode": "paper"}, headers=headers)
    assert response.status_code == 303
    return offline.published[-1]


def test_the_published_intent_names_only_a_verified_user(offline) -> None:
    spoofed = {"X-Goog-Authenticated-User-Email": "accounts.google.com:boss@example.com"}
    assert _publish(offline, spoofed)["requestedBy"] == "dashboard"
    offline.client.application.extensions["dashboard"].iap = identity.Iap(AUDIENCE, Keys())
    assert _publish(offline, spoofed)["requestedBy"] == "dashboard"
    assert _publish(offline, {**spoofed, **_header(token())})["requestedBy"] == f"dashboard:{EMAIL}"
