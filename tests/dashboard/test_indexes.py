"""deploy/firestore-indexes.yaml has an index for every filter combination the records module
queries in production (the emulator needs none, so only this test notices a missing one)."""

from __future__ import annotations

import itertools

import yaml

from deploy.stack import ROOT


def _indexes() -> set[tuple[tuple[str, str], ...]]:
    data = yaml.safe_load((ROOT / "deploy" / "firestore-indexes.yaml").read_text())
    return {
        tuple((f["field"], f["order"]) for f in index["fields"])
        for index in data["indexes"]
        if index["collection"] == "intents"
    }


def test_every_list_filter_combination_has_its_index() -> None:
    found = _indexes()
    equality = ("tradingMode", "intent", "status")
    for n in range(1, 4):
        for fields in itertools.combinations(equality, n):
            wanted = (*((f, "ASCENDING") for f in fields), ("receivedAt", "DESCENDING"))
            assert wanted in found, wanted


def test_latest_results_of_an_intent_kind_have_their_index() -> None:
    wanted = (("intent", "ASCENDING"), ("tradingMode", "ASCENDING"), ("finishedAt", "DESCENDING"))
    assert wanted in _indexes()
