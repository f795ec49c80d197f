"""`locks/gateway-{mode}`: one IB session per trading mode across every instance.

IB allows one session per user, and Cloud Run can briefly run two instances (revision rollouts).
The lease is taken before a gateway starts, renewed in the background while it runs, and
released when it stops; a lease whose owner stopped renewing it expires and is taken over.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.database import Database
from worker.exceptions import GatewayBusy, StoreUnavailable
from worker.lease_renewal import Renewer, held_by_other

log = logging.getLogger("worker.gateway")
_CONTENTION_RETRIES = 3


class GatewayLease:
    """`lost` turns true when another owner holds the lease this one was renewing."""

    def __init__(self, db: Database, mode: str, owner: str, ttl_seconds: int) -> None:
        self.db = db
        self.ref = db.collection("locks").document(f"gateway-{mode}")
        self.owner = owner
        self.ttl = ttl_seconds
        self.held = False
        self.lost = False
        self._renewer: Renewer | None = None

    def _doc(self, now: datetime) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "expiresAt": now + timedelta(seconds=self.ttl),
            "renewedAt": now,
        }

    def _precondition(self, snap: Any) -> Any:
        return self.db.unchanged_since(snap.update_time)

    def acquire(self) -> None:
        """Take the lease or raise GatewayBusy (StoreUnavailable when Firestore is down); start
        renewing it."""
        from google.api_core import exceptions

        for _ in range(_CONTENTION_RETRIES):
            now = datetime.now(UTC)
            snap = self.db.get(self.ref)
            held = snap.to_dict() or {} if snap.exists else {}
            if held_by_other(held, self.owner, now):
                raise GatewayBusy(
                    f"gateway lease held by {held.get('owner')} until "
                    f"{held['expiresAt'].isoformat()}"
                )
            try:
                if snap.exists:
                    self.db.do(self.ref.update, self._doc(now), option=self._precondition(snap))
                else:
                    self.db.do(self.ref.create, self._doc(now))
            except (exceptions.AlreadyExists, exceptions.FailedPrecondition):
                continue
            if held.get("owner") not in (None, self.owner):
                log.warning("took over the expired gateway lease of %s", held.get("owner"))
            break
        else:
            raise GatewayBusy("gateway lease contended")
        self.held, self.lost = True, False
        if self._renewer is None:
            self._renewer = Renewer("gateway lease", self.ttl / 3, self.renew).start()

    def renew(self) -> bool:
        """Extend the lease if it is still ours: True only once the extension is written; False
        (and `lost`) if another owner has it. A lease written between the read and the write is
        read again and decided again."""
        from google.api_core import exceptions

        for _ in range(_CONTENTION_RETRIES):
            snap = self.db.get(self.ref)
            owner = (snap.to_dict() or {}).get("owner") if snap.exists else None
            if owner != self.owner:
                self.lost = True
                log.error(
                    "the gateway lease passed to %s; this session places no more orders", owner
                )
                return False
            try:
                self.db.do(
                    self.ref.update, self._doc(datetime.now(UTC)), option=self._precondition(snap)
                )
            except (exceptions.FailedPrecondition, exceptions.NotFound):
                continue  # changed or deleted since it was read: read it again
            return True
        raise StoreUnavailable("the gateway lease kept changing under contention")

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours."""
        if self._renewer is not None:
            self._renewer.stop()
            self._renewer = None
        if not self.held:
            return
        self.held = False
        try:
            snap = self.db.get(self.ref)
            if snap.exists and (snap.to_dict() or {}).get("owner") == self.owner:
                self.db.do(self.ref.delete, option=self._precondition(snap))
        except Exception as exc:  # it expires on its own
            log.warning("releasing the gateway lease failed: %s", exc.__class__.__name__)
