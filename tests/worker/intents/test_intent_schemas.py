"""The one list of intents: registered intents and schemas/intents/ agree (no gateway)."""

from __future__ import annotations

import json

import worker.intents  # noqa: F401 - registers the plugins
from worker import intent_registry
from worker.message import intent_names, schemas
from worker.settings import Settings

SCHEMAS = Settings().schemas_dir


def test_every_registered_intent_has_a_params_schema_and_every_schema_an_intent():
    registered, files = set(intent_registry.names()), set(intent_names(SCHEMAS))
    missing = sorted(registered - files)
    assert not missing, "add a strict params schema: " + ", ".join(
        f"schemas/intents/{name}.schema.json" for name in missing
    )
    orphans = sorted(files - registered)
    assert not orphans, (
        f"no intent registers {', '.join(orphans)}: add @intent(...) in a module of "
        "worker/intents/ imported by worker/intents/__init__.py, or delete its schema"
    )


def test_every_params_schema_is_strict_and_names_itself():
    for name in intent_names(SCHEMAS):
        schema = json.loads((SCHEMAS / "intents" / f"{name}.schema.json").read_text())
        assert schema["$id"] == f"intents/{name}.schema.json", name
        assert schema["additionalProperties"] is False, f"{name}'s params must be strict"


def test_the_derived_lists_are_every_intent_and_every_step():
    derived = schemas(SCHEMAS)
    assert derived["intent"]["properties"]["intent"]["enum"] == intent_registry.names()
    step = derived["intents/batch"]["properties"]["steps"]["items"]
    assert step["properties"]["intent"]["enum"] == [
        n for n in intent_registry.names() if n != "batch"
    ]
