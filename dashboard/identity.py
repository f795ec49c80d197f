"""Who publishes from the dashboard: the account Identity-Aware Proxy signed in, taken only from
IAP's signed JWT (`X-Goog-IAP-JWT-Assertion`), verified with google-auth against IAP's public
keys and the configured audience (DASHBOARD_IAP_AUDIENCE). Anything else (no audience set, no
token, a token that does not verify, IAP's unsigned `X-Goog-Authenticated-User-Email` header,
which anyone reaching the service directly can send) gives no user: requestedBy is `dashboard`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers as RequestHeaders

log = logging.getLogger("dashboard")

JWT_HEADER = "X-Goog-IAP-JWT-Assertion"
ISSUER = "https://cloud.google.com/iap"
CERTS_URL = "https://www.gstatic.com/iap/verify/public_key"  # {key id: PEM public key}
CERTS_TIMEOUT_SECONDS = 5.0
MAX_TOKEN = 8192
EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,190}$")


def _google_request() -> Callable[..., Any]:
    """google-auth's HTTP transport with a short timeout (it fetches IAP's keys)."""
    from google.auth.transport.requests import Request

    request = Request()

    def fetch(url: str, method: str = "GET", **kwargs: Any) -> Any:
        return request(url, method=method, timeout=CERTS_TIMEOUT_SECONDS, **kwargs)

    return fetch


@dataclass
class Iap:
    """Verifies IAP's JWT for `audience` (empty: IAP is not in front, nobody is trusted).
    `request` is google-auth's transport, which fetches the keys from `certs_url`."""

    audience: str = ""
    request: Callable[..., Any] = field(default_factory=_google_request)
    certs_url: str = CERTS_URL

    def user(self, headers: Mapping[str, str] | RequestHeaders) -> str | None:
        """The signed-in account's email, when IAP's JWT verifies; else None."""
        token = headers.get(JWT_HEADER, "")
        if not self.audience or not token or len(token) > MAX_TOKEN:
            return None
        from google.auth import exceptions
        from google.oauth2 import id_token

        try:
            claims = id_token.verify_token(
                token,
                self.request,  # type: ignore[arg-type]  # google-auth only calls its Request
                audience=self.audience,
                certs_url=self.certs_url,
            )
        except (ValueError, KeyError, TypeError, exceptions.GoogleAuthError) as exc:
            log.warning("IAP's JWT was not accepted (%s): publishing as `dashboard`", _why(exc))
            return None
        email = claims.get("email")
        if claims.get("iss") != ISSUER or not isinstance(email, str) or not EMAIL.match(email):
            log.warning("IAP's JWT has another issuer or no email: publishing as `dashboard`")
            return None
        return email


def _why(exc: Exception) -> str:
    """The kind of failure, never the token (it is a credential)."""
    return exc.__class__.__name__


def requested_by(iap: Iap, headers: Mapping[str, str] | RequestHeaders) -> str:
    who = iap.user(headers)
    return f"dashboard:{who}" if who else "dashboard"
