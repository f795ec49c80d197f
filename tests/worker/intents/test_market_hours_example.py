"""docs/market-hours.md's dry-run example, run for real: the shipped 15:45 ET rebalance's allocation
as a dry run with the simulator's clock on Christmas Day. The page shows the result this test
gets (`pytest -s` prints it); the test fails when the two part."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support import delivery, unique

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "market-hours.md"
README = ROOT / "README.md"
HEADING = "## A dry run on a closed market"
DOC_ID = "alloc-1225"
CHRISTMAS = "2026-12-25T15:45:00-05:00"
# What a result carries of this one run (its message id, times and timings) and the Pub/Sub
# attributes the test's subscription adds: left out of the page.
OF_THE_RUN = {"messageId", "receivedAt", "startedAt", "finishedAt", "timings", "_attributes"}


def documented(page: Path = PAGE, heading: str = HEADING) -> dict[str, Any]:
    text = page.read_text()
    section = text[text.index(heading) :]
    found = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert found, f"no json block under {heading!r}"
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


def excerpt_of(excerpt: Any, whole: Any) -> bool:
    """Whether every key of `excerpt` is in `whole` with the same value (recursively)."""
    if isinstance(excerpt, dict):
        return isinstance(whole, dict) and all(
            key in whole and excerpt_of(value, whole[key]) for key, value in excerpt.items()
        )
    return bool(excerpt == whole)


def decided(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key not in OF_THE_RUN}


def test_the_page_s_dry_run_on_christmas_is_what_the_worker_answers(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": CHRISTMAS})
    intent_id = unique(DOC_ID)
    make_worker(flat_sim).handle(
        delivery({"intent": "allocation", "id": intent_id, "params": {"dryRun": True}})
    )
    result = json.loads(json.dumps(results.for_id(intent_id)).replace(intent_id, DOC_ID))
    print(json.dumps(result, indent=2))
    assert flat_sim.api.broker.orders == {}
    assert decided(result) == decided(documented())
    # the README's excerpt of the same run
    assert excerpt_of(documented(README, "## On a closed market"), result)


def test_an_excerpt_is_checked_key_by_key():
    whole = {"a": 1, "b": {"c": [1], "d": "x"}}
    assert excerpt_of({"b": {"d": "x"}}, whole)
    assert not excerpt_of({"b": {"d": "y"}}, whole)
    assert not excerpt_of({"e": 1}, whole)
