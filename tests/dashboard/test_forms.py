"""The publish form from every schema in schemas/intents/: every property a field, and a
submitted form back to params that the publisher's validation accepts."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MultiDict

from dashboard import forms
from publisher.client import SCHEMAS, build_message, known_intents

SCHEMA_FILES = sorted((SCHEMAS / "intents").glob("*.schema.json"))


def test_every_intent_has_a_schema_file_and_a_form() -> None:
    names = {p.name.removesuffix(".schema.json") for p in SCHEMA_FILES}
    assert set(known_intents()) <= names
    for intent in known_intents():
        assert isinstance(forms.form_fields(intent), list)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_property_of_every_schema_is_a_field(path) -> None:
    spec = json.loads(path.read_text())
    fields = forms.fields_for(spec)

    def properties(schema, prefix=()):
        for name, prop in (schema.get("properties") or {}).items():
            yield (*prefix, name)
            if prop.get("type") == "object" and prop.get("properties"):
                yield from properties(prop, (*prefix, name))

    assert {f.path for f in forms.walk(fields)} == set(properties(spec))
    for f in forms.walk(fields):
        prop = spec
        for part in f.path:
            prop = prop["properties"][part]
        assert f.description == prop.get("description", "")
        assert f.default == prop.get("default")
        assert f.required == (f.path[-1] in _required(spec, f.path))
        if "enum" in prop:
            assert (f.kind, f.options) == ("choice", prop["enum"])
        elif prop.get("type") == "boolean":
            assert f.kind == "boolean"


def _required(spec, path):
    parent = spec
    for part in path[:-1]:
        parent = parent["properties"][part]
    return set(parent.get("required") or [])


@pytest.mark.parametrize("intent", known_intents())
def test_the_initial_form_publishes_a_valid_message(intent) -> None:
    """The form as it first shows (defaults, dry run on) is a valid message, except where a
    required field has no default (then the form says `required`)."""
    fields = forms.form_fields(intent)
    form = MultiDict()
    for name, value in forms.initial(fields).items():
        if value is True:
            form.add(name, "on")
        elif value is not False:
            form.add(name, str(value))
    required = [f for f in forms.walk(fields) if f.required and f.default is None]
    if required:
        with pytest.raises(forms.FormErrors) as caught:
            forms.parse(fields, form)
        assert set(caught.value.errors) == {f.name for f in required}
        assert set(caught.value.errors.values()) == {"required"}
        return
    params = forms.parse(fields, form)
    build_message(intent, params)  # the publisher's validation accepts it
    if any(f.label == "dryRun" for f in fields):
        assert params["dryRun"] is True  # a dry run unless the person says otherwise


def test_a_new_intent_schema_needs_no_dashboard_code() -> None:
    spec = {
        "type": "object",
        "required": ["symbol", "legs"],
        "properties": {
            "symbol": {"type": "string", "pattern": "^[A-Z]+$", "description": "what"},
            "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
            "ratio": {"type": "number"},
            "side": {"enum": ["BUY", "SELL"]},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
            "names": {"type": "array", "items": {"type": "string"}},
            "legs": {"type": "array", "items": {"type": "object"}},
            "limits": {"type": "object", "properties": {"max": {"type": "number"}}},
            "hedge": {"type": "boolean"},
        },
    }
    fields = forms.fields_for(spec)
    kinds = {f.label: f.kind for f in forms.walk(fields)}
    assert kinds == {
        "symbol": "text",
        "size": "integer",
        "ratio": "number",
        "side": "choice",
        "tags": "multi",
        "names": "list",
        "legs": "json",
        "limits": "group",
        "max": "number",
        "hedge": "boolean",
    }
    form = MultiDict(
        [
            ("p.symbol", "SPY"),
            ("p.size", "3"),
            ("p.ratio", "0.5"),
            ("p.side", "SELL"),
            ("p.tags", "a"),
            ("p.tags", "b"),
            ("p.names", " x, y ,,"),
            ("p.legs", '[{"a": 1}]'),
            ("p.limits.max", "12.5"),
            ("p.hedge", "on"),
        ]
    )
    assert forms.parse(fields, form) == {
        "symbol": "SPY",
        "size": 3,
        "ratio": 0.5,
        "side": "SELL",
        "tags": ["a", "b"],
        "names": ["x", "y"],
        "legs": [{"a": 1}],
        "limits": {"max": 12.5},
        "hedge": True,
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("p.size", "three", "is not a whole number"),
        ("p.ratio", "NaN", "is not a finite number"),
        ("p.ratio", "1e999", "is not a finite number"),
        ("p.side", "HOLD", "is not one of BUY, SELL"),
        ("p.tags", "c", "is not one of a, b"),
        ("p.legs", "[1,", "not JSON"),
        ("p.legs", "[NaN]", "not JSON"),
        ("p.hedge", "yes", "expected a checkbox"),
        ("p.symbol", "x" * (forms.MAX_FIELD + 1), "longer than"),
        ("p.bogus", "1", "not a field of this intent"),
    ],
)
def test_each_unreadable_field_is_named(name, value, message) -> None:
    spec = {
        "type": "object",
        "properties": {
            "symbol": {"type": "string"},
            "size": {"type": "integer"},
            "ratio": {"type": "number"},
            "side": {"enum": ["BUY", "SELL"]},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
            "legs": {"type": "array", "items": {"type": "object"}},
            "hedge": {"type": "boolean"},
        },
    }
    with pytest.raises(forms.FormErrors) as caught:
        forms.parse(forms.fields_for(spec), MultiDict([(name, value)]))
    assert message in caught.value.errors[name]


def test_allocation_form_fields_have_their_defaults_and_enums() -> None:
    fields = {f.name: f for f in forms.walk(forms.form_fields("allocation"))}
    assert fields["p.orderProperties.tif"].options == ["DAY", "GTC", "OPG", "IOC"]
    assert fields["p.orderProperties.tif"].default == "DAY"
    assert fields["p.strategies"].kind == "list"
    assert forms.initial(list(fields.values()))["p.dryRun"] is True
    assert fields["p.orderProperties.goodAfterTime"].pattern


def test_unknown_intent_has_no_form() -> None:
    with pytest.raises(KeyError):
        forms.form_fields("no-such-intent")
