"""The publish form, generated from an intent's params schema (schemas/intents/NAME.schema.json):
every property a field of its type, enum and default; the submitted form back to params.

A new intent schema needs no code here: properties of a type the form has no widget for (an
array of objects, an object without declared properties) get a JSON text field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from publisher.client import SCHEMAS, known_intents

PREFIX = "p."  # every params field's form name starts with it
MAX_FIELD = 20_000  # characters of one submitted field
MAX_DEPTH = 32  # nesting of a JSON field's arrays and objects (no intent's params need more)


class FormErrors(ValueError):
    """Fields whose values cannot be read: {form name: message}."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k[len(PREFIX) :]}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Field:
    path: tuple[str, ...]
    kind: str  # boolean, choice, text, integer, number, list, multi, json, group
    description: str = ""
    default: Any = None
    required: bool = False
    options: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    children: list[Field] = field(default_factory=list)

    @property
    def name(self) -> str:
        return PREFIX + ".".join(self.path)

    @property
    def label(self) -> str:
        return self.path[-1]

    @property
    def dom_id(self) -> str:
        return "f-" + "-".join(self.path)

    @property
    def hint(self) -> str:
        """What the field takes, in words (shown under it)."""
        parts = []
        if self.kind == "list":
            parts.append("comma-separated")
        if self.kind == "json":
            parts.append("JSON")
        if self.pattern:
            parts.append(f"format {self.pattern}")
        if self.minimum is not None:
            parts.append(f"at least {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"at most {self.maximum:g}")
        if self.default is not None and self.kind not in ("boolean",):
            parts.append(f"default {json.dumps(self.default)}")
        return "; ".join(parts)


@cache
def schema(intent: str) -> dict[str, Any]:
    """The params schema of a known intent."""
    if intent not in known_intents():
        raise KeyError(intent)
    return json.loads((SCHEMAS / "intents" / f"{intent}.schema.json").read_text())


def fields_for(spec: dict[str, Any], path: tuple[str, ...] = ()) -> list[Field]:
    required = set(spec.get("required") or [])
    return [
        _field(prop or {}, (*path, name), name in required)
        for name, prop in (spec.get("properties") or {}).items()
    ]


def _field(prop: dict[str, Any], path: tuple[str, ...], required: bool) -> Field:
    common = {
        "description": prop.get("description", ""),
        "default": prop.get("default"),
        "required": required,
    }
    kind = prop.get("type")
    if "enum" in prop:
        return Field(path, "choice", options=list(prop["enum"]), **common)
    if "const" in prop:
        return Field(path, "choice", options=[prop["const"]], **common)
    if kind == "boolean":
        return Field(path, "boolean", **common)
    if kind in ("integer", "number"):
        return Field(path, kind, minimum=prop.get("minimum"), maximum=prop.get("maximum"), **common)
    if kind == "string":
        return Field(path, "text", pattern=prop.get("pattern"), **common)
    if kind == "array":
        items = prop.get("items") or {}
        if "enum" in items:
            return Field(path, "multi", options=list(items["enum"]), **common)
        if items.get("type") == "string":
            return Field(path, "list", pattern=items.get("pattern"), **common)
    if kind == "object" and prop.get("properties"):
        return Field(path, "group", children=fields_for(prop, path), **common)
    return Field(path, "json", **common)


def form_fields(intent: str) -> list[Field]:
    return fields_for(schema(intent))


def initial(fields: list[Field]) -> dict[str, Any]:
    """The form's starting values: each default, and a dry run wherever the intent has one."""
    values: dict[str, Any] = {}
    for f in walk(fields):
        if f.label == "dryRun" and f.kind == "boolean":
            values[f.name] = True
        elif f.default is not None:
            values[f.name] = json.dumps(f.default) if f.kind == "json" else f.default
    return values


def walk(fields: list[Field]) -> list[Field]:
    """Every field, groups' children included (depth first)."""
    found = []
    for f in fields:
        found.append(f)
        found.extend(walk(f.children))
    return found


def submitted(fields: list[Field], form: Any) -> dict[str, Any]:
    """The submitted values by form name, as the form shows them again."""
    values: dict[str, Any] = {}
    for f in walk(fields):
        if f.kind == "boolean":
            values[f.name] = form.get(f.name) == "on"
        elif f.kind == "multi":
            values[f.name] = form.getlist(f.name) if hasattr(form, "getlist") else []
        elif f.kind != "group":
            values[f.name] = form.get(f.name, "")
    return values


def parse(fields: list[Field], form: Any) -> dict[str, Any]:
    """The params a submitted form asks for (FormErrors naming each bad field); the schema
    itself is checked afterwards, by the publisher's validation."""
    known = {f.name for f in walk(fields)}
    errors = {
        key: "not a field of this intent"
        for key in form
        if key.startswith(PREFIX) and key not in known
    }
    params = _parse(fields, form, errors)
    if errors:
        raise FormErrors(errors)
    return params


def _parse(fields: list[Field], form: Any, errors: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for f in fields:
        if f.kind == "group":
            inner = _parse(f.children, form, errors)
            if inner:
                params[f.label] = inner
            continue
        try:
            value = _value(f, form)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        if value is not None:
            params[f.label] = value
        elif f.required:
            errors[f.name] = "required"
    return params


def _value(f: Field, form: Any) -> Any:
    if f.kind == "boolean":
        flag = form.get(f.name)
        if flag not in (None, "on"):
            raise ValueError("expected a checkbox")
        return flag == "on"
    if f.kind == "multi":
        chosen = form.getlist(f.name) if hasattr(form, "getlist") else []
        by_text = {str(o): o for o in f.options}
        bad = [c for c in chosen if c not in by_text]
        if bad:
            raise ValueError(f"{bad[0][:40]!r} is not one of {', '.join(by_text)}")
        return [by_text[c] for c in chosen] or None
    text = form.get(f.name, "")
    if len(text) > MAX_FIELD:
        raise ValueError(f"longer than {MAX_FIELD} characters")
    text = text.strip()
    if text == "":
        return None
    if f.kind == "choice":
        by_text = {str(o): o for o in f.options}
        if text not in by_text:
            raise ValueError(f"{text[:40]!r} is not one of {', '.join(by_text)}")
        return by_text[text]
    if f.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a whole number") from None
    if f.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"{text[:40]!r} is not a finite number")
        return number
    if f.kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()] or None
    if f.kind == "json":
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except RecursionError:  # thousands of [ or {: the parser's own recursion gives up
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise ValueError(f"not JSON ({getattr(exc, 'msg', exc)})") from None
        if depth(value) > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        return value
    return text


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), counted
    without recursion, so that no value is too deep to measure."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            stack.extend((inner, level + 1) for inner in item)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
