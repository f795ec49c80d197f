"""Query parameters: every one checked, each failure a one-line message for the page."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from publisher.client import known_intents
from publisher.records import MODES, STATUSES, IntentQuery
from worker.message import ID_PATTERN

MAX_LENGTH = 200
SIZES = (10, 25, 50, 100)
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadInput(ValueError):
    """A parameter or form field is not valid; str() is the message shown on the page."""


def _shown(value: str) -> str:
    text = value if len(value) <= 40 else value[:37] + "..."
    return repr(text)


def single(args: Any, allowed: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Allowed parameters given once each, and messages for every other one."""
    allowed = set(allowed)
    values, errors = {}, []
    for key in args:
        given = args.getlist(key) if hasattr(args, "getlist") else [args[key]]
        if key not in allowed:
            errors.append(
                f"unknown parameter {_shown(key)} (allowed: {', '.join(sorted(allowed))})"
            )
        elif len(given) != 1:
            errors.append(f"{key}: give it once, not {len(given)} times")
        elif len(given[0]) > MAX_LENGTH:
            errors.append(f"{key}: longer than {MAX_LENGTH} characters")
        else:
            values[key] = given[0]
    return values, errors


def choice(name: str, value: str, options: Iterable[str]) -> str:
    options = list(options)
    if value not in options:
        raise BadInput(f"{name}: {_shown(value)} is not one of {', '.join(options)}")
    return value


def mode(value: str, allowed: Iterable[str] = MODES) -> str:
    return choice("mode", value, allowed)


def intent_name(value: str) -> str:
    return choice("intent", value, known_intents())


def intent_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise BadInput(
            f"id: {_shown(value)} is not an intent id (1-64 of letters, digits and . _ : -, "
            "not . or ..)"
        )
    return value


def day(name: str, value: str) -> date:
    if not DAY.match(value):
        raise BadInput(f"{name}: {_shown(value)} is not a date (YYYY-MM-DD)")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{name}: {_shown(value)} is not a date (YYYY-MM-DD)") from None
    if not 2000 <= parsed.year <= 2100:
        raise BadInput(f"{name}: {value} is outside 2000-2100")
    return parsed


def size(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 3 or int(value) not in SIZES:
        raise BadInput(f"size: {_shown(value)} is not one of {', '.join(map(str, SIZES))}")
    return int(value)


def cursor(value: str) -> str:
    """A page cursor: the record key `mode:id` of the last intent of the previous page."""
    record_mode, sep, rest = value.partition(":")
    if not sep or record_mode not in MODES or not ID_PATTERN.fullmatch(rest):
        raise BadInput(f"after: {_shown(value)} is not a page cursor (mode:id)")
    return value


@dataclass
class ListFilters:
    """The intents list's filters, parsed; `errors` says what was refused."""

    values: dict[str, str] = field(default_factory=dict)
    mode: str | None = None
    intent: str | None = None
    status: str | None = None
    since: date | None = None
    until: date | None = None
    size: int = 25
    after: str | None = None
    errors: list[str] = field(default_factory=list)

    KEYS = ("mode", "intent", "status", "from", "to", "size", "after")

    def query(self) -> IntentQuery:
        def start(d: date | None) -> datetime | None:
            return datetime.combine(d, time(), UTC) if d else None

        return IntentQuery(
            mode=self.mode,
            intent=self.intent,
            status=self.status,
            since=start(self.since),
            until=start(self.until + timedelta(days=1)) if self.until else None,
            limit=self.size,
            after=self.after,
        )

    def link_args(self, **override: str | None) -> dict[str, str]:
        """The valid filters as query parameters (for the pager and the fragment URL)."""
        args = {k: v for k, v in self.values.items() if k != "after"}
        args.update({k: v for k, v in override.items() if v is not None})
        return args


def list_filters(args: Mapping[str, Any]) -> ListFilters:
    values, errors = single(args, ListFilters.KEYS)
    found = ListFilters(errors=errors)
    parsers = {
        "mode": lambda v: setattr(found, "mode", mode(v)),
        "intent": lambda v: setattr(found, "intent", intent_name(v)),
        "status": lambda v: setattr(found, "status", choice("status", v, STATUSES)),
        "from": lambda v: setattr(found, "since", day("from", v)),
        "to": lambda v: setattr(found, "until", day("to", v)),
        "size": lambda v: setattr(found, "size", size(v)),
        "after": lambda v: setattr(found, "after", cursor(v)),
    }
    for key, value in values.items():
        if value == "":
            continue  # an empty filter field of the form: no filter
        try:
            parsers[key](value)
        except BadInput as exc:
            found.errors.append(str(exc))
            continue
        found.values[key] = value
    if found.since and found.until and found.since > found.until:
        found.errors.append(f"from ({found.since}) is after to ({found.until})")
        found.since = found.until = None
        found.values.pop("from", None)
        found.values.pop("to", None)
    return found


def read_mode(args: Mapping[str, Any], default: str) -> tuple[str, list[str]]:
    """The `mode` parameter of a page that reads one trading mode (holdings, account, config)."""
    values, errors = single(args, ("mode",))
    if values.get("mode"):
        try:
            return mode(values["mode"]), errors
        except BadInput as exc:
            errors.append(str(exc))
    return default, errors
