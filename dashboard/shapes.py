"""Values made readable: any JSON-like value as a tree the templates draw (key-value lists,
tables of flat rows, lists, scalars), secrets masked, and raw JSON for "show raw"."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from publisher.digest import fmt_number, fmt_time

SECRET = re.compile(r"pass(word)?|secret|token|credential|userid|user_id|api.?key|private", re.I)
MASK = "••••••"


@dataclass
class Node:
    kind: str  # dict, table, list, scalar, empty
    text: str = ""
    items: list[tuple[str, Node]] = field(default_factory=list)  # dict
    children: list[Node] = field(default_factory=list)  # list
    keys: list[str] = field(default_factory=list)  # table
    rows: list[list[str]] = field(default_factory=list)  # table
    numeric: list[bool] = field(default_factory=list)  # table: right-aligned columns


def redact(value: Any) -> Any:
    """The value with every field whose name looks like a secret masked."""
    if isinstance(value, dict):
        return {
            k: (MASK if SECRET.search(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return fmt_number(value)
    if isinstance(value, datetime):
        return fmt_time(value)
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _flat(row: Any) -> bool:
    return isinstance(row, dict) and all(not isinstance(v, dict | list) for v in row.values())


def shape(value: Any) -> Node:
    """The tree of a (redacted) value."""
    value = redact(value)
    return _shape(value)


def _shape(value: Any) -> Node:
    if isinstance(value, dict):
        if not value:
            return Node("empty", "(none)")
        rows = list(value.values())
        if len(rows) > 1 and all(_flat(r) and r for r in rows):
            # A mapping of records (instruments, strategies' settings): one table, keyed.
            keyed = _shape([{"": str(k), **r} for k, r in value.items()])
            keyed.numeric[0] = False
            return keyed
        return Node("dict", items=[(str(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        if not value:
            return Node("empty", "(none)")
        if all(_flat(r) for r in value):
            keys: list[str] = []
            for row in value:
                keys.extend(k for k in row if k not in keys)
            return Node(
                "table",
                keys=keys,
                rows=[[scalar(row.get(k, "")) if k in row else "" for k in keys] for row in value],
                numeric=[all(_number(r.get(k)) for r in value if k in r) for k in keys],
            )
        if all(not isinstance(v, dict | list) for v in value):
            return Node("scalar", ", ".join(scalar(v) for v in value))
        return Node("list", children=[_shape(v) for v in value])
    return Node("scalar", scalar(value))


def sorted_keys(value: Any) -> Any:
    """The value with every mapping's keys in alphabetical order (Firestore keeps none)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def raw_json(value: Any) -> str:
    """Indented JSON of a (redacted) record, times as RFC 3339."""

    def default(obj: Any) -> str:
        return obj.isoformat() if isinstance(obj, datetime) else str(obj)

    return json.dumps(redact(value), indent=2, sort_keys=True, default=default)
