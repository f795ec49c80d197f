"""Before a command talks to Pub/Sub or Firestore: is there anything to talk to? A few seconds at
most, and one line that says what is wrong and what to do.

Two set-ups work: the local stack (`make up`, then `set -a; . .devstack/env; set +a`, which sets
the emulators' *_EMULATOR_HOST variables) and a real project (application default credentials and
GOOGLE_CLOUD_PROJECT).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

EXIT_UNAVAILABLE = 4
LOCAL = "start `make up` and `set -a; . .devstack/env; set +a`"
CLOUD = "`gcloud auth application-default login` and set GOOGLE_CLOUD_PROJECT"
EMULATORS = {
    "pubsub": ("Pub/Sub", "PUBSUB_EMULATOR_HOST"),
    "firestore": ("Firestore", "FIRESTORE_EMULATOR_HOST"),
}


class NotConnected(RuntimeError):
    """Nothing to talk to, or no way to; the message says what to do (one line)."""


def local_stack() -> bool:
    """The environment points at emulators (a sourced .devstack/env)."""
    return any(os.environ.get(variable) for _, variable in EMULATORS.values())


def _emulator_answers(host: str, timeout: float) -> bool:
    # Both emulators answer "Ok" on their HTTP root; a closed port fails at once.
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=timeout) as response:
            return b"Ok" in response.read(64)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def check(*services: str, timeout: float = 3.0) -> None:
    """Raise NotConnected unless every one of `services` ("pubsub", "firestore") can be used."""
    if local_stack():
        for service in services:
            name, variable = EMULATORS[service]
            host = os.environ.get(variable)
            if not host:
                raise NotConnected(
                    f"{variable} is not set while another emulator's variable is: "
                    f"source the whole .devstack/env ({LOCAL})"
                )
            if not _emulator_answers(host, timeout):
                raise NotConnected(
                    f"the {name} emulator at {host} is not answering (variables of a stopped "
                    f"stack?): {LOCAL} again"
                )
        return
    credentials_usable(timeout)


def credentials_usable(timeout: float = 5.0) -> str:
    """The project of working Google credentials, or NotConnected saying how to get them."""
    import google.auth
    from google.auth import exceptions
    from google.auth.transport.requests import Request

    try:
        credentials, found = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except exceptions.DefaultCredentialsError:
        raise NotConnected(
            f"no local stack and no Google credentials: {LOCAL}, or {CLOUD}"
        ) from None
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT")
    if not (project or found):
        raise NotConnected(f"Google credentials but no project: set GOOGLE_CLOUD_PROJECT ({CLOUD})")
    try:
        credentials.refresh(_timed(Request(), timeout))
    except exceptions.RefreshError as exc:
        first = exc.args[0] if exc.args else ""
        reason = str(first).splitlines()[0][:120] if first else type(exc).__name__
        raise NotConnected(
            f"the Google credentials were refused ({reason}): run "
            "`gcloud auth application-default login` again"
        ) from None
    except exceptions.TransportError:
        raise NotConnected(
            f"Google's sign-in service did not answer within {timeout:g} s: check the network, "
            f"or use the local stack ({LOCAL})"
        ) from None
    return str(project or found)


def _timed(request, timeout: float):
    def call(*args, **kwargs):
        kwargs.setdefault("timeout", timeout)
        return request(*args, **kwargs)

    return call


def explain(exc: BaseException) -> str | None:
    """One line for a failure of Google's libraries met after the check (a stack stopped
    meanwhile, a permission missing), or None when it is not such a failure."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return f"no local stack and no Google credentials: {LOCAL}, or {CLOUD}"
    if isinstance(exc, exceptions.PermissionDenied):
        return f"permission denied: {_first_line(exc)} (check the account and project)"
    if isinstance(exc, exceptions.NotFound):
        return f"not found: {_first_line(exc)}"
    if isinstance(
        exc,
        exceptions.RetryError
        | exceptions.ServiceUnavailable
        | exceptions.DeadlineExceeded
        | TimeoutError,
    ):
        where = "the local stack" if local_stack() else "Google Cloud"
        return f"{where} stopped answering ({type(exc).__name__}): " + (
            f"is `make up` still running? ({LOCAL})" if local_stack() else "check the network"
        )
    if isinstance(exc, exceptions.GoogleAPIError | auth_exceptions.GoogleAuthError):
        return f"Google Cloud refused ({type(exc).__name__}): {_first_line(exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
