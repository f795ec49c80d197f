"""`locks/gateway-{mode}`: one IB session per trading mode across every instance.

IB allows one session per user, and Cloud Run can briefly run two instances (revision rollouts).
The lease is taken before a gateway starts, renewed in the background while it runs, and
released when it stops; a lease whose owner stopped renewing it expires and is taken over.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.exceptions import GatewayBusy, GatewayError

log = logging.getLogger("worker.gateway")


class GatewayLease:
    """`lost` turns true when another owner holds the lease this one was renewing."""

    def __init__(
        self, client: Any, mode: str, owner: str, ttl_seconds: int, timeout: float = 10.0
    ) -> None:
        self.ref = client.collection("locks").document(f"gateway-{mode}")
        self.client = client
        self.owner = owner
        self.ttl = ttl_seconds
        self.timeout = timeout
        self.held = False
        self.lost = False
        self._stop = threading.Event()
        from google.api_core.retry import Retry

        self._call = {"retry": Retry(initial=0.1, maximum=1.0, timeout=timeout), "timeout": timeout}
        self._renewer: threading.Thread | None = None

    def _doc(self, now: datetime) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "expiresAt": now + timedelta(seconds=self.ttl),
            "renewedAt": now,
        }

    def acquire(self) -> None:
        """Take the lease or raise GatewayBusy; start renewing it."""
        from google.api_core import exceptions

        try:
            for _ in range(3):
                now = datetime.now(UTC)
                snap = self.ref.get(**self._call)
                if not snap.exists:
                    try:
                        self.ref.create(self._doc(now), **self._call)
                    except exceptions.AlreadyExists:
                        continue
                    break
                held = snap.to_dict() or {}
                if held.get("owner") != self.owner and held.get("expiresAt", now) > now:
                    raise GatewayBusy(
                        f"gateway lease held by {held.get('owner')} until "
                        f"{held['expiresAt'].isoformat()}"
                    )
                option = self.client.write_option(last_update_time=snap.update_time)
                try:
                    self.ref.update(self._doc(now), option=option, **self._call)
                except exceptions.FailedPrecondition:
                    continue
                if held.get("owner") != self.owner:
                    log.warning("took over the expired gateway lease of %s", held.get("owner"))
                break
            else:
                raise GatewayBusy("gateway lease contended")
        except (
            exceptions.ServiceUnavailable,
            exceptions.DeadlineExceeded,
            exceptions.RetryError,
        ) as exc:
            raise GatewayError(
                "firestore", f"gateway lease unavailable: {exc.__class__.__name__}"
            ) from exc
        self.held, self.lost = True, False
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.renew():
                    return
            except Exception as exc:  # the lease expires if renewals keep failing: safe
                log.warning("renewing the gateway lease failed: %s", exc.__class__.__name__)

    def renew(self) -> bool:
        """Extend the lease if it is still ours; False (and `lost`) if another owner has it."""
        from google.api_core import exceptions

        snap = self.ref.get(**self._call)
        owner = (snap.to_dict() or {}).get("owner") if snap.exists else None
        if owner != self.owner:
            self.lost = True
            log.error("the gateway lease passed to %s; this session places no more orders", owner)
            return False
        option = self.client.write_option(last_update_time=snap.update_time)
        # Changed since it was read: the next renewal looks again.
        with contextlib.suppress(exceptions.FailedPrecondition):
            self.ref.update(self._doc(datetime.now(UTC)), option=option, **self._call)
        return True

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        if not self.held:
            return
        self.held = False
        try:
            snap = self.ref.get(**self._call)
            if snap.exists and (snap.to_dict() or {}).get("owner") == self.owner:
                option = self.client.write_option(last_update_time=snap.update_time)
                self.ref.delete(option=option, **self._call)
        except Exception as exc:  # it expires on its own
            log.warning("releasing the gateway lease failed: %s", exc.__class__.__name__)
