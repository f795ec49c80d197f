"""The worker's JSON log lines as a person reads them: time, severity, intent id, message.

The worker always writes JSON (what Cloud Logging parses, and what `make up` passes on when its
output goes to a pipe or a file); only the local stack turns it into this when it shows the
worker's output on a terminal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime

RESET = "\033[0m"
DIM = "\033[2m"
CYAN = "\033[36m"
SEVERITY_COLOURS = {
    "DEBUG": DIM,
    "INFO": "\033[32m",
    "NOTICE": "\033[32m",
    "WARNING": "\033[33m",
    "ERROR": "\033[31m",
    "CRITICAL": "\033[1;31m",
}
WIDTH = 8  # the longest severity, CRITICAL


def _clock(stamp: object) -> str:
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return str(stamp)[:12]
    return when.astimezone().strftime("%H:%M:%S.%f")[:12]


def readable(line: str, colour: bool = False) -> str:
    """One JSON log line as `HH:MM:SS.mmm SEVERITY [intent id] message`; anything that is not
    such a line (gunicorn's own start-up lines) unchanged."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or "message" not in entry:
        return f"{DIM}{line}{RESET}" if colour and line else line

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if colour and code else text

    severity = str(entry.get("severity") or "DEFAULT").upper()
    parts = [
        paint(_clock(entry.get("time", "")), DIM),
        paint(severity.ljust(WIDTH), SEVERITY_COLOURS.get(severity, "")),
    ]
    if entry.get("intentId"):
        parts.append(paint(f"[{entry['intentId']}]", CYAN))
    first, *more = str(entry["message"]).splitlines() or [""]
    parts.append(first)
    indent = " " * (12 + 1 + WIDTH + 1)
    return "\n".join([" ".join(parts), *(indent + extra for extra in more)])


def colour_wanted(stream_is_tty: bool = True) -> bool:
    """Colour at a terminal unless NO_COLOR is set (https://no-color.org) or TERM is dumb."""
    return stream_is_tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def for_terminal() -> Callable[[str], str]:
    colour = colour_wanted()
    return lambda line: readable(line, colour)
