"""deploy/cloud/extras.py: the composite indexes file and what the set-up makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.cloud import extras
from deploy.cloud.gcloud import SetupError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "firestore-indexes.yaml"
    path.write_text(text)
    return path


def test_no_file_no_indexes(tmp_path):
    assert extras.load_indexes(tmp_path / "missing.yaml") == []


def test_every_way_of_writing_a_field(tmp_path):
    path = write(
        tmp_path,
        """
- collection: intents
  fields: [tradingMode, receivedAt desc]
- collectionGroup: events
  fields:
    - {field: type, order: ascending}
    - {fieldPath: at, order: DESCENDING}
""",
    )
    assert extras.load_indexes(path) == [
        ("intents", (("tradingMode", "ascending"), ("receivedAt", "descending"))),
        ("events", (("type", "ascending"), ("at", "descending"))),
    ]
    assert extras.load_indexes(write(tmp_path, "indexes:\n- {collection: a, fields: [x, y]}\n"))


def test_the_create_command_and_the_check(tmp_path):
    resource = extras._index_resource(
        "intents", (("mode", "ascending"), ("at", "descending")), "db"
    )
    (command,) = resource.create({})
    assert command.argv == (
        "firestore",
        "indexes",
        "composite",
        "create",
        "--collection-group=intents",
        "--query-scope=collection",
        "--field-config=field-path=mode,order=ascending",
        "--field-config=field-path=at,order=descending",
        "--async",
    )
    assert resource.scope == "kept" and resource.needs == ("db",)

    class Listing:
        def __init__(self, listed):
            self.listed = listed

        def read_json(self, *argv):
            assert argv == ("firestore", "indexes", "composite", "list")
            return self.listed

    name = "projects/p/databases/(default)/collectionGroups/intents/indexes/1"
    fields = [
        {"fieldPath": "mode", "order": "ASCENDING"},
        {"fieldPath": "at", "order": "DESCENDING"},
        {"fieldPath": "__name__", "order": "DESCENDING"},
    ]
    assert resource.probe(Listing([{"name": name, "fields": fields}])).present
    assert not resource.probe(Listing([{"name": name, "fields": fields[1:]}])).present
    other = name.replace("/intents/", "/booked/")
    assert not resource.probe(Listing([{"name": other, "fields": fields}])).present


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not yaml", "not YAML"),
        ("just text", "expected a list"),
        ("- [a, b]", "expected a mapping"),
        ("- {collection: 'a/b', fields: [x, y]}", "collection must be"),
        ("- {collection: a, fields: [x]}", "at least two fields"),
        ("- {collection: a, fields: [x, y sideways]}", "ascending or descending"),
        ("- {collection: a, fields: [x, 5]}", "a field is a name"),
    ],
)
def test_a_bad_file_is_refused_naming_the_index(tmp_path, text, message):
    with pytest.raises(SetupError, match=message):
        extras.load_indexes(write(tmp_path, text))
