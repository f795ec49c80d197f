"""TWS API wire format: length-prefixed frames of NUL-terminated text fields."""

from __future__ import annotations

import struct
from collections.abc import Iterable

SERVER_VERSION = 176  # accepted by ib_async 2.x (v157..178) and ib_insync 0.9.86 (v157..176)
MIN_CLIENT_VERSION = 157
MAX_FRAME_BYTES = 1 << 20


class ProtocolError(ValueError):
    """The peer sent something that is not the TWS API."""


# Incoming request ids (client -> gateway).
class In:
    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DETAILS = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    REQ_CURRENT_TIME = 49
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_COMPLETED_ORDERS = 99
    CANCEL_HISTORICAL_DATA = 25


# Outgoing message ids (gateway -> client).
class Out:
    TICK_PRICE = 1
    TICK_STRING = 46
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERROR = 4
    OPEN_ORDER = 5
    ACCOUNT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCOUNT_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCOUNT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


def field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e16 else str(int(value))
    return str(value)


def frame(fields: Iterable[object]) -> bytes:
    """One message: a 4-byte big-endian length, then each field followed by NUL."""
    payload = "".join(field(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def split_frames(buffer: bytearray) -> list[list[str]]:
    """Take every complete frame off the front of `buffer`, as lists of fields."""
    messages = []
    while len(buffer) >= 4:
        (size,) = struct.unpack(">I", buffer[:4])
        if size > MAX_FRAME_BYTES:
            raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME_BYTES}")
        if len(buffer) < 4 + size:
            break
        text = bytes(buffer[4 : 4 + size]).decode(errors="replace")
        del buffer[: 4 + size]
        fields = text.split("\0")
        if fields and fields[-1] == "":
            fields.pop()
        messages.append(fields)
    return messages


def parse_handshake(buffer: bytearray) -> tuple[int, int] | None:
    """`API\\0` + a frame `v<min>..<max>[ options]`; None until it is complete."""
    if len(buffer) < 4:
        return None
    if bytes(buffer[:4]) != b"API\0":
        raise ProtocolError("not a TWS API client (no API\\0 prefix)")
    rest = bytearray(buffer[4:])
    frames = split_frames(rest) if len(rest) >= 4 else []
    if not frames:
        return None
    del buffer[: len(buffer) - len(rest)]
    text = frames[0][0] if frames[0] else ""
    versions = text.split(" ", 1)[0]
    if not versions.startswith("v") or ".." not in versions:
        raise ProtocolError(f"bad version range {text!r}")
    low, high = versions[1:].split("..", 1)
    try:
        return int(low), int(high)
    except ValueError:
        raise ProtocolError(f"bad version range {text!r}") from None
