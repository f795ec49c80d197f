"""The detail page of a dry run shows what IB would charge for each planned order."""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape

AT = datetime(2026, 3, 2, 14, 5, 9, tzinfo=UTC)
COST = {
    "orders": [
        {
            "orderRef": "dry-1:alloc:1000447849",
            "symbol": "VTI",
            "commission": 1.25,
            "commissionCurrency": "USD",
            "initMarginChange": 7512.5,
            "maintMarginChange": 7512.5,
            "equityWithLoanChange": -1.25,
            "excessLiquidityAfter": 151234.0,
        },
        {"orderRef": "dry-1:alloc:1000146637", "symbol": "GLD", "error": "IB error 201: no"},
    ],
    "commission": None,
    "initMarginChange": None,
    "maintMarginChange": None,
    "excessLiquidityBefore": 158747.75,
    "excessLiquidityAfter": None,
    "currency": "USD",
}


def _record(records, intent_id: str, result: dict, **fields) -> None:
    records.add(
        "paper",
        intent_id,
        intent="allocation",
        status=fields.pop("status", "succeeded"),
        receivedAt=AT,
        finishedAt=AT,
        attempts=1,
        params={"dryRun": True},
        result=result,
        **fields,
    )


def test_a_dry_runs_page_shows_commission_and_margin_per_order(offline) -> None:
    _record(offline.records, "dry-1", {"dryRun": True, "orders": [], "whatIf": COST})
    page = unescape(offline.client.get("/intents/paper/dry-1").get_data(as_text=True))
    table = page[page.index("What IB would charge") : page.index("<h2>Result</h2>")]
    assert "nothing was sent" in table
    vti = table[table.index("VTI") : table.index("GLD")]
    assert "1.25" in vti and "USD" in vti and "7,512.5" in vti and "151,234" in vti
    assert "IB error 201: no" in table  # a refused whatIf is shown, not hidden


def test_a_refused_dry_run_shows_why_and_the_cost(offline) -> None:
    cost = {**COST, "orders": COST["orders"][:1], "excessLiquidityAfter": 151234.0}
    _record(
        offline.records,
        "dry-2",
        {"dryRun": True, "orders": [], "whatIf": cost},
        status="failed",
        error={"code": "risk-limit", "message": "below minExcessLiquidity 200,000"},
    )
    page = unescape(offline.client.get("/intents/paper/dry-2").get_data(as_text=True))
    assert "below minExcessLiquidity 200,000" in page and "What IB would charge" in page


def test_a_result_without_a_cost_or_of_another_shape_has_no_table(offline) -> None:
    _record(offline.records, "plain", {"dryRun": True, "orders": []})
    _record(offline.records, "odd", {"whatIf": ["not", "a", "mapping"]})
    for intent_id in ("plain", "odd"):
        response = offline.client.get(f"/intents/paper/{intent_id}")
        assert response.status_code == 200
        assert "What IB would charge" not in response.get_data(as_text=True)
