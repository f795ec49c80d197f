"""The message contract: parse and validate an intent message against `schemas/`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from worker.exceptions import Rejected
from worker.names import TRADING_MODES

DEFAULT_MODE = "paper"
# The whole string (fullmatch): `$` alone would let a final line break through. Not `.` or `..`:
# as a path segment (the dashboard's intent pages) a browser resolves them to another page.
ID_PATTERN = re.compile(r"(?!\.\.?\Z)[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True)
class IntentMessage:
    """A validated intent, ready to run."""

    id: str
    intent: str
    params: dict[str, Any] = field(default_factory=dict)
    trading_mode: str = "paper"
    expires_at: datetime | None = None
    requested_by: str | None = None
    explicit_mode: bool = False  # the message itself named its trading mode
    explicit_id: bool = False  # the message named its id (else the id is its message id)

    @property
    def fingerprint(self) -> str:
        """What the message asks for (intent, params, mode): the same id with another
        fingerprint is a reused id, not a duplicate."""
        asked = {"intent": self.intent, "params": self.params, "tradingMode": self.trading_mode}
        canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def intent_names(schemas_dir: Path) -> list[str]:
    """The intents of the contract: one params schema each, `intents/<name>.schema.json`. The
    one place that lists them: the schemas' `x-enum` and `x-params-of` are derived from it."""
    found = (schemas_dir / "intents").glob("*.schema.json")
    return sorted(p.name.removesuffix(".schema.json") for p in found)


def _derived(node: Any, names: list[str]) -> Any:
    """The schema with the lists derived from `names` filled in: `"x-enum": "intents"` becomes
    the enum of every intent, `"x-enum": "batch-steps"` of every intent but batch, and
    `"x-params-of": "intent"` an allOf checking `params` against that intent's own schema."""
    if isinstance(node, list):
        return [_derived(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _derived(value, names) for key, value in node.items()}
    steps = [n for n in names if n != "batch"]
    kind = node.pop("x-enum", None)
    if kind is not None:
        node["enum"] = {"intents": names, "batch-steps": steps}[kind]
    field_name = node.pop("x-params-of", None)
    if field_name is not None:
        node["allOf"] = [
            {
                "if": {"properties": {field_name: {"const": n}}},
                "then": {"properties": {"params": {"$ref": f"{n}.schema.json"}}},
            }
            for n in steps
        ]
    return node


@cache
def schemas(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    """Every schema under `schemas_dir` by name (`intent`, `intents/batch`), lists derived."""
    names = intent_names(schemas_dir)
    return {
        str(p.relative_to(schemas_dir)).removesuffix(".schema.json"): _derived(
            json.loads(p.read_text()), names
        )
        for p in sorted(schemas_dir.rglob("*.schema.json"))
    }


@cache
def _registry(schemas_dir: Path) -> Registry:
    """Every schema by its `$id`, so one can `$ref` another (a batch step's params)."""
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas(schemas_dir).values()
    )


@cache
def _validator(schemas_dir: Path, name: str) -> Draft202012Validator:
    schema = schemas(schemas_dir)[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry(schemas_dir))


def has_schema(schemas_dir: Path, name: str) -> bool:
    return (schemas_dir / f"{name}.schema.json").is_file()


def schema_errors(schemas_dir: Path, name: str, instance: object, prefix: str = "") -> list[str]:
    """Readable messages for every way `instance` breaks schema `name`, most useful first."""
    try:
        errors = sorted(_validator(schemas_dir, name).iter_errors(instance), key=_error_rank)
    except RecursionError:
        return [f"{prefix or 'message'}: nested too deeply"]
    return list(dict.fromkeys(_describe(e, prefix) for e in errors))  # one rule, one line


def _error_rank(error: ValidationError) -> tuple[int, str]:
    return (0 if error.validator == "additionalProperties" else 1, error.json_path)


def _describe(error: ValidationError, prefix: str) -> str:
    path = prefix + "".join(
        f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
    )
    where = path.lstrip(".") or "message"
    if isinstance(error.schema, dict) and isinstance(error.schema.get("x-error"), str):
        return f"{where}: {error.schema['x-error']}"  # the schema's own words for a rule
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known)) if isinstance(error.instance, dict) else []
        names = ", ".join(repr(f"{where}.{x}" if path else x) for x in extra)
        allowed = ", ".join(known) if known else "none"
        return f"unknown field {names} (allowed: {allowed})"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{where}: {error.instance!r} is not one of {allowed}"
    return f"{where}: {error.message}"


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON (RFC 8259), and no number check can refuse a NaN."""
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes) -> dict[str, Any]:
    """The message data as a JSON object, or Rejected."""
    if not data:
        raise Rejected("empty", 'message data is empty: expected JSON like {"intent": "ping"}')
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        json.dumps(body, ensure_ascii=False).encode()  # a lone surrogate (\ud800) is no text
    except UnicodeDecodeError:
        raise Rejected("bad-encoding", "message data is not UTF-8 text") from None
    except RecursionError:
        raise Rejected("invalid-json", "message data is nested too deeply") from None
    except ValueError as exc:
        raise Rejected("invalid-json", f"message data is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        kind = type(body).__name__.replace("list", "array").replace("dict", "object")
        raise Rejected("invalid-json", f"message data must be a JSON object, got a JSON {kind}")
    return body


def trading_mode(body: dict[str, Any], attributes: dict[str, str]) -> str:
    """The mode the message asks for (default paper); Rejected if invalid or contradictory."""
    attr = attributes.get("tradingMode")
    field_value = body.get("tradingMode")
    for source, value in (("attribute tradingMode", attr), ("field tradingMode", field_value)):
        if value is not None and value not in TRADING_MODES:
            raise Rejected("invalid-mode", f"{source} must be 'paper' or 'live', got {value!r}")
    if attr is not None and field_value is not None and attr != field_value:
        raise Rejected(
            "mode-conflict",
            f"attribute tradingMode={attr!r} contradicts field tradingMode={field_value!r}",
        )
    return field_value or attr or DEFAULT_MODE


def intent_id(body: dict[str, Any], attributes: dict[str, str], message_id: str) -> str:
    """The idempotency key: `id` from the body or attributes, else the message id."""
    candidates = [v for v in (body.get("id"), attributes.get("id")) if v is not None]
    valid = [v for v in candidates if isinstance(v, str) and ID_PATTERN.fullmatch(v)]
    if len(valid) == 2 and valid[0] != valid[1]:
        raise Rejected(
            "id-conflict", f"attribute id={valid[1]!r} contradicts field id={valid[0]!r}"
        )
    return valid[0] if valid else message_id


def validate(
    body: dict[str, Any],
    attributes: dict[str, str],
    *,
    message_id: str,
    known_intents: list[str],
    schemas_dir: Path,
    published_at: datetime | None = None,
) -> IntentMessage:
    """Check everything about the message; return it as an IntentMessage or raise Rejected."""
    name = body.get("intent")
    if "intent" not in body:
        raise Rejected("schema", "missing required field 'intent'")
    if not isinstance(name, str):
        raise Rejected("schema", f"field 'intent' must be a string, got {json.dumps(name)}")
    if name not in known_intents:
        known = ", ".join(sorted(known_intents))
        raise Rejected("unknown-intent", f"unknown intent {name!r} (known: {known})")
    errors = schema_errors(schemas_dir, "intent", body)
    if errors:
        raise Rejected("schema", "; ".join(errors))
    params = body.get("params") or {}
    if has_schema(schemas_dir, f"intents/{name}"):
        errors = schema_errors(schemas_dir, f"intents/{name}", params, prefix="params")
        if errors:
            raise Rejected("bad-params", "; ".join(errors))
    mode = trading_mode(body, attributes)
    attr_id = attributes.get("id")
    if attr_id is not None and not ID_PATTERN.fullmatch(attr_id):
        raise Rejected(
            "schema",
            f"attribute id={attr_id!r} must be 1-64 characters of [A-Za-z0-9._:-], not . or ..",
        )
    return IntentMessage(
        id=intent_id(body, attributes, message_id),
        intent=name,
        params=params,
        trading_mode=mode,
        expires_at=_expiry(body, published_at),
        requested_by=body.get("requestedBy"),
        explicit_mode="tradingMode" in body or "tradingMode" in attributes,
        explicit_id="id" in body or "id" in attributes,
    )


def _expiry(body: dict[str, Any], published_at: datetime | None) -> datetime | None:
    limits = []
    if "expiresAt" in body:
        text = body["expiresAt"]
        try:
            when = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise Rejected("schema", f"expiresAt: {text!r} is not an RFC 3339 time") from None
        limits.append(when if when.tzinfo else when.replace(tzinfo=UTC))
    if "ttlSeconds" in body:
        # Counted from publishing, never from a publish time in the future (a skewed clock).
        now = datetime.now(UTC)
        start = min(published_at, now) if published_at else now
        try:
            limits.append(start + timedelta(seconds=body["ttlSeconds"]))
        except OverflowError:
            raise Rejected("schema", "ttlSeconds: out of range") from None
    return min(limits) if limits else None
