"""Connect ib_async to a starting gateway: poll fast, and say what to do when it fails.

Ready means the API handshake completed and the managed accounts arrived (what `IB.connect`
waits for), not that the port is open.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from worker.exceptions import GatewayError
from worker.gateway.launchers import Launcher
from worker.logs import redact

log = logging.getLogger("worker.gateway")

INFORMATIONAL = frozenset({2104, 2106, 2107, 2108, 2119, 2158})
CLIENT_ID_IN_USE = 326
REQUEST_TIMEOUT_SECONDS = 30.0
# An external gateway may be in its daily restart (60-90 s, the port closed or refusing, or
# open with no managed accounts yet): wait longer between attempts, up to this.
EXTERNAL_MAX_POLL_SECONDS = 5.0
ADVICE = {
    321: "the API is read-only: set ReadOnlyApi=no in IBC's config.ini (or uncheck "
    "'Read-Only API' in the gateway's API settings)",
    10197: "a competing session is logged in with the same user (TWS or IBKR Mobile): log it "
    "out, or give the API its own user",
    502: "the gateway refused the connection: allow 127.0.0.1 as a trusted API client",
}


@dataclass
class ErrorLog:
    """IB error messages seen on a connection, with the informational ones set aside; with
    `req_id`, only those about that request (an order's errors carry its order id: another
    order's late refusal must not be taken for this one's)."""

    req_id: int | None = None
    seen: list[tuple[int, str]] = field(default_factory=list)

    def __call__(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        if code in INFORMATIONAL:
            log.debug("IB %d: %s", code, message)
            return
        if self.req_id is None or req_id == self.req_id:
            self.seen.append((code, message))

    def codes(self) -> set[int]:
        return {code for code, _ in self.seen}

    def last(self) -> str | None:
        return f"IB error {self.seen[-1][0]}: {self.seen[-1][1]}" if self.seen else None


class _PollingNoise(logging.Filter):
    """Drops what ib_async's client logs for each refused or unanswered attempt while a gateway
    boots ("API connection failed: ConnectionRefusedError(...)", "Make sure API port on TWS/IBG is
    open"); the outcome is reported once, by `connect`. Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith("API connection failed: ")
            or message == "Make sure API port on TWS/IBG is open"
        )


def next_poll(wait: float, cap: float) -> float:
    """The wait before the next attempt: doubled after each failed one, never above `cap`."""
    return min(wait * 2, cap) if cap > wait else wait


def connect_budget(configured: float, *limits: float | None) -> float:
    """How long a connection may be waited for: the configured timeout, cut to what is left of
    the intent's deadline and TTL (`limits`, seconds; None: no such limit), at least 1 s."""
    return max(1.0, min([configured, *(x for x in limits if x is not None)]))


def connect(launcher: Launcher, client_id: int, timeout: float, poll: float = 0.25) -> Any:
    """An `ib_async.IB` connected and synchronised, or GatewayError after `timeout` seconds
    (retryable: a gateway that is restarting is back within a minute or two).

    A gateway this process starts is polled every `poll` seconds; an external one with backoff
    up to EXTERNAL_MAX_POLL_SECONDS. Logs one line when it starts waiting and one when the
    gateway is ready."""
    where = f"the {launcher.name} gateway at {launcher.host}:{launcher.port}"
    client_log, noise = logging.getLogger("ib_async.client"), _PollingNoise()
    client_log.addFilter(noise)
    log.info("waiting for %s to accept API connections", where)
    t0 = time.monotonic()
    try:
        ib = _poll(launcher, client_id, timeout, poll)
    except GatewayError as exc:  # its message may carry the gateway's output
        raise GatewayError(exc.code, redact(str(exc)), retryable=exc.retryable) from None
    finally:
        client_log.removeFilter(noise)
    log.info(
        "%s is ready after %d ms (accounts %s)",
        where,
        (time.monotonic() - t0) * 1000,
        ",".join(ib.managedAccounts()),
    )
    return ib


def _poll(launcher: Launcher, client_id: int, timeout: float, poll: float) -> Any:
    import ib_async

    cap = EXTERNAL_MAX_POLL_SECONDS if launcher.name == "external" else poll
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while True:
        failure = launcher.failure()
        if failure:
            raise GatewayError("gateway-exited", f"{failure}\n{launcher.log_tail()}")
        ib, errors = ib_async.IB(), ErrorLog()
        ib.errorEvent += errors
        remaining = deadline - time.monotonic()
        try:
            ib.connect(
                launcher.host,
                launcher.port,
                clientId=client_id,
                timeout=max(1.0, min(remaining, 10.0)),
            )
            ib.sleep(0.05)  # let messages sent right after the handshake arrive
            if blocking := errors.codes() & {321, 10197}:
                ib.disconnect()
                code = min(blocking)
                raise GatewayError(f"ib-{code}", ADVICE[code], retryable=code == 10197)
            return _watch(ib)
        except (ConnectionRefusedError, ConnectionResetError) as exc:
            last_error = f"{exc.__class__.__name__}: {exc}"
        except TimeoutError:
            last_error = "the API handshake did not complete (gateway still logging in?)"
        except (OSError, ConnectionError) as exc:
            last_error = f"{exc.__class__.__name__}: {exc}"
        finally:
            ib.errorEvent -= errors
        ib.disconnect()
        if CLIENT_ID_IN_USE in errors.codes() and time.monotonic() < deadline:
            log.warning("client id %d is in use; trying %d", client_id, client_id + 1)
            client_id += 1
            continue
        for code in (321, 10197, 502):
            if code in errors.codes():
                raise GatewayError(f"ib-{code}", ADVICE[code], retryable=code == 10197)
        last_error = errors.last() or last_error
        if time.monotonic() >= deadline:
            raise GatewayError(
                "gateway-not-ready",
                f"gateway not accepting API connections at {launcher.host}:{launcher.port} "
                f"within {timeout:g} s; last error: {last_error}\n"
                f"gateway log (tail):\n{launcher.log_tail()}",
            )
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        poll = next_poll(poll, cap)


def _watch(ib: Any) -> Any:
    """Log IB's messages at their real severity and track connectivity (1100/1101/1102)."""
    ib.connectivity_lost = False
    ib.RequestTimeout = REQUEST_TIMEOUT_SECONDS  # no request may hang an intent forever

    def on_error(req_id: int, code: int, message: str, contract: Any = None) -> None:
        if code in INFORMATIONAL:
            log.info("IB %d: %s", code, message)
        elif code == 1100:
            ib.connectivity_lost = True
            log.warning("IB %d: %s; orders are held until it is restored", code, message)
        elif code in (1101, 1102):
            ib.connectivity_lost = False
            log.info("IB %d: %s", code, message)
        else:
            log.warning("IB %d (request %d): %s", code, req_id, message)

    ib.errorEvent += on_error
    return ib


def ensure_connected(ib: Any) -> None:
    """Raise a retryable GatewayError when the session cannot place orders now."""
    if not ib.isConnected():
        raise GatewayError("ib-disconnected", "the connection to the gateway was lost")
    if getattr(ib, "connectivity_lost", False):
        raise GatewayError("ib-connectivity", "IB reported connectivity lost (1100)")
    lease = getattr(ib, "gateway_lease", None)
    if lease is not None and lease.lost:
        raise GatewayError("lease-lost", "another instance took over the gateway lease")
