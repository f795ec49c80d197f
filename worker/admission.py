"""Which message a delivery carries, before anything is recorded: an intent this worker runs, one
for the other trading mode's worker (ignored), or a rejection with what can be told of the
message. `worker.pipeline` answers each; this module reads only the delivery and the settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import worker.intents  # importing the plugin package registers every intent
import worker.message
from worker import intent_registry, names
from worker.delivery import Delivery
from worker.exceptions import Rejected
from worker.message import IntentMessage
from worker.settings import Settings

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")  # how much of a rejected message's intent is kept


@dataclass(frozen=True)
class OtherMode:
    """A message for the other trading mode's worker: acked here and left to it."""

    mode: str


@dataclass(frozen=True)
class Refusal:
    """A message that can never run: what can be told of it, and why."""

    message: IntentMessage
    error: Rejected


Admitted = IntentMessage | OtherMode | Refusal


def admit(delivery: Delivery, settings: Settings) -> Admitted:
    """The validated message, or why this worker does not run it."""
    own = settings.trading_mode
    # The attribute decides which worker owns a message; without one the body does, and a
    # message whose mode cannot be read belongs to the default mode, so only one of two workers
    # records its rejection.
    hint = delivery.attributes.get("tradingMode")
    mode = hint if hint in names.TRADING_MODES else None
    if mode and mode != own:
        return OtherMode(mode)
    body: dict[str, Any] = {}
    try:
        if delivery.problem:
            raise Rejected("bad-encoding", delivery.problem)
        size, limit = len(delivery.data), settings.max_message_bytes
        if size > limit:
            raise Rejected("too-large", f"message data is {size} bytes; the limit is {limit}")
        body = worker.message.parse_json(delivery.data)
        mode = worker.message.trading_mode(body, delivery.attributes)
        if mode != own:
            return OtherMode(mode)
        return worker.message.validate(
            body,
            delivery.attributes,
            message_id=delivery.message_id,
            known_intents=intent_registry.names(),
            schemas_dir=settings.schemas_dir,
            published_at=delivery.publish_time,
        )
    except Rejected as exc:
        if (mode or worker.message.DEFAULT_MODE) != own:
            return OtherMode(mode or worker.message.DEFAULT_MODE)
        return Refusal(rejected_message(body, delivery, own), exc)


def rejected_message(body: dict[str, Any], delivery: Delivery, mode: str) -> IntentMessage:
    """What can be told of a message that was rejected: its id if it has a usable one, its
    intent name and requester if they are plain short strings (nothing else of it is kept)."""
    try:
        intent_id = worker.message.intent_id(body, delivery.attributes, delivery.message_id)
    except Rejected:
        intent_id = delivery.message_id
    name = body.get("intent", delivery.attributes.get("intent"))
    by = body.get("requestedBy")
    return IntentMessage(
        id=intent_id,
        intent=name if isinstance(name, str) and _NAME.match(name) else "",
        trading_mode=mode,
        requested_by=by if isinstance(by, str) and len(by) <= 200 else None,
    )
