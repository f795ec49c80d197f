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
                numeric=[
                    all(isinstance(r.get(k), int | float) for r in value if k in r) for k in keys
                ],
            )
        if all(not isinstance(v, dict | list) for v in value):
            return Node("scalar", ", ".join(scalar(v) for v in value))
        return Node("list", children=[_shape(v) for v in value])
    return Node("scalar", scalar(value))


def raw_json(value: Any) -> str:
    """Indented JSON of a (redacted) record, times as RFC 3339."""

    def default(obj: Any) -> str:
        return obj.isoformat() if isinstance(obj, datetime) else str(obj)

    return json.dumps(redact(value), indent=2, sort_keys=True, default=default)
