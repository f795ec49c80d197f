"""Decode a Pub/Sub message from any of the three shapes it arrives in over HTTP.

- wrapped push: `{"message": {...}, "subscription": ...}` (camelCase or snake_case keys)
- unwrapped push: the raw data as the body, metadata in `x-goog-pubsub-*` headers
- Eventarc CloudEvent (binary or structured mode) whose data is the wrapped push body
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from worker.exceptions import NotADelivery

# Attributes the contract defines; unwrapped push sends them as HTTP headers (case-insensitive).
KNOWN_ATTRIBUTES = ("intent", "tradingMode", "id")
MAX_REQUEST_BYTES = 16 * 1024 * 1024
# Pub/Sub's message ids are decimal; the id also names Firestore documents, so nothing else passes.
MESSAGE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True)
class Delivery:
    """One Pub/Sub message as delivered. `problem` is set when its data could not be decoded."""

    message_id: str
    data: bytes = b""
    attributes: dict[str, str] = field(default_factory=dict)
    publish_time: datetime | None = None
    delivery_attempt: int | None = None
    subscription: str | None = None
    shape: str = "push"
    problem: str | None = None


def decode(headers: Mapping[str, str], body: bytes) -> Delivery:
    """Turn an HTTP request into a Delivery, or raise NotADelivery."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if len(body) > MAX_REQUEST_BYTES:
        raise NotADelivery("request body too large", f"{len(body)} bytes")
    content_type = lowered.get("content-type", "")
    if "ce-specversion" in lowered or content_type.startswith("application/cloudevents+json"):
        return _from_cloudevent(lowered, body)
    if "x-goog-pubsub-message-id" in lowered:
        return _from_unwrapped(lowered, body)
    if not body:
        raise NotADelivery("empty request body: expected a Pub/Sub push or a CloudEvent")
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise NotADelivery(
            "request body is not JSON and carries no Pub/Sub headers", repr(exc)[:200]
        ) from None
    return _from_envelope(envelope, shape="push")


def _from_envelope(envelope: object, shape: str, fallback_id: str | None = None) -> Delivery:
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        raise NotADelivery("expected a JSON object with a 'message' object (Pub/Sub push)")
    message = envelope["message"]
    message_id = _message_id(_first(message, "messageId", "message_id") or fallback_id)
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        attributes = {}
    data, problem = b"", None
    raw = message.get("data")
    if raw is not None:
        data, problem = _b64(raw)
    attempt = _first(envelope, "deliveryAttempt", "delivery_attempt")
    subscription = envelope.get("subscription")
    return Delivery(
        message_id=message_id,
        data=data,
        attributes={str(k): str(v) for k, v in attributes.items()},
        publish_time=parse_time(_first(message, "publishTime", "publish_time")),
        delivery_attempt=attempt if isinstance(attempt, int) else None,
        subscription=subscription if isinstance(subscription, str) else None,
        shape=shape,
        problem=problem,
    )


def _from_cloudevent(headers: dict[str, str], body: bytes) -> Delivery:
    from cloudevents.exceptions import GenericException
    from cloudevents.http import from_http

    try:
        event = from_http(headers, body)
    except (GenericException, ValueError, TypeError, RecursionError) as exc:
        raise NotADelivery("malformed CloudEvent", repr(exc)[:200]) from None
    shape = "cloudevent-binary" if "ce-specversion" in headers else "cloudevent-structured"
    data = event.data
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise NotADelivery("CloudEvent data is not a Pub/Sub message") from None
    return _from_envelope(data, shape=shape, fallback_id=event["id"])


def _from_unwrapped(headers: dict[str, str], body: bytes) -> Delivery:
    attributes = {
        name: headers[name.lower()] for name in KNOWN_ATTRIBUTES if name.lower() in headers
    }
    return Delivery(
        message_id=_message_id(headers["x-goog-pubsub-message-id"]),
        data=body,
        attributes=attributes,
        publish_time=parse_time(headers.get("x-goog-pubsub-publish-time")),
        subscription=headers.get("x-goog-pubsub-subscription-name"),
        shape="push-unwrapped",
    )


def _message_id(value: object) -> str:
    if not isinstance(value, str) or not MESSAGE_ID.fullmatch(value):  # `$` allows a final \n
        raise NotADelivery("Pub/Sub message has no valid messageId", repr(value)[:200])
    return value


def _first(mapping: dict[str, object], *keys: str) -> object:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def _b64(raw: object) -> tuple[bytes, str | None]:
    if not isinstance(raw, str):
        return b"", "message data is not a base64 string"
    try:
        return base64.b64decode(raw, validate=True), None
    except (binascii.Error, ValueError):
        return b"", "message data is not valid base64"


def to_ms(when: datetime) -> int:
    """A publish time in whole milliseconds since the epoch, how records and dead-lettered copies
    (whose attribute has milliseconds) compare it."""
    return int(when.timestamp() * 1000)


def parse_time(value: object) -> datetime | None:
    """A publish time; without an offset it is UTC, and unreadable it is unknown."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
