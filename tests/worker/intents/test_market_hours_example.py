"""docs/market-hours.md's dry-run example, run for real: the shipped 15:45 ET rebalance's allocation
as a dry run with the simulator's clock on Christmas Day. The page shows the result this test
gets (`pytest -s` prints it); the test fails when the two part."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support import delivery, unique

PAGE = Path(__file__).resolve().parents[3] / "docs" / "market-hours.md"
HEADING = "## A dry run on a closed market"
DOC_ID = "alloc-1225"
CHRISTMAS = "2026-12-25T15:45:00-05:00"
# What a result carries of this one run (its message id, times and timings) and the Pub/Sub
# attributes the test's subscription adds: left out of the page.
OF_THE_RUN = {"messageId", "receivedAt", "startedAt", "finishedAt", "timings", "_attributes"}


def documented() -> dict[str, Any]:
    text = PAGE.read_text()
    section = text[text.index(HEADING) :]
    found = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert found, f"no json block under {HEADING!r}"
    parsed: dict[str, Any] = json.loads(found.group(1))
    return parsed


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
