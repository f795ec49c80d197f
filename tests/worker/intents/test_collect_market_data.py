"""collect-market-data in IB's bar sizes: where the bars go, and IB's refusal of a combination."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from simulator.bars import BAR_SECONDS
from tests.support import delivery, unique
from worker.intents.collect_market_data import collection_name, document_id
from worker.trading.market import BAR_SIZES

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def test_the_bar_sizes_are_ibs_in_the_schemas_the_worker_and_the_simulator() -> None:
    params = json.loads((SCHEMAS / "intents" / "collect-market-data.schema.json").read_text())
    config = json.loads((SCHEMAS / "config.schema.json").read_text())
    market_data = config["properties"]["marketData"]["properties"]
    assert params["properties"]["barSize"]["enum"] == list(BAR_SIZES)
    assert market_data["barSize"]["enum"] == list(BAR_SIZES)
    assert set(BAR_SIZES) == set(BAR_SECONDS) - {"1W", "1M"}


def test_each_size_has_its_collection_and_each_bar_its_document() -> None:
    assert collection_name("1 day") == "daily" and collection_name("5 mins") == "bars-5mins"
    assert document_id(date(2026, 11, 20)) == "20261120"
    eastern = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("US/Eastern"))
    assert document_id(eastern) == "20261120T143000Z"
    assert document_id(datetime(2026, 11, 20, 14, 30, tzinfo=UTC)) == "20261120T143000Z"


def run(worker, intent_id: str, **params):
    message = {"intent": "collect-market-data", "id": intent_id, "params": params}
    return worker.handle(delivery(message))


def test_intraday_bars_are_stored_by_their_start(make_worker, flat_sim, results, db) -> None:
    worker = make_worker(flat_sim)
    intent_id = unique("bars-30m")
    run(worker, intent_id, instruments=["SPY"], duration="1 D", barSize="30 mins")
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    stored = result["result"]["stored"]["SPY"]
    assert result["result"]["barSize"] == "30 mins" and stored["bars"] == 13
    bars = db.collection("marketData").document("SPY").collection("bars-30mins")
    first = datetime.fromisoformat(stored["first"])
    doc = bars.document(document_id(first)).get().to_dict()
    assert doc["low"] <= doc["close"] <= doc["high"] and doc["date"] == stored["first"]
    assert first.astimezone(ZoneInfo("US/Eastern")).strftime("%H:%M") == "09:30"


def test_a_combination_ib_refuses_fails_with_its_error(make_worker, flat_sim, results) -> None:
    intent_id = unique("bars-refused")
    run(make_worker(flat_sim), intent_id, instruments=["SPY"], duration="1 W", barSize="1 min")
    result = results.for_id(intent_id)
    assert (result["status"], result["error"]["code"]) == ("failed", "market-data")
    assert "IB refused 1 min bars of SPY over '1 W': 162" in result["error"]["message"]
    assert result["error"]["retryable"] is False


def test_a_bar_size_ib_does_not_have_is_rejected_on_receipt(make_worker, flat_sim, results):
    intent_id = unique("bars-bad")
    run(make_worker(flat_sim), intent_id, instruments=["SPY"], barSize="7 mins")
    result = results.for_id(intent_id)
    assert result["status"] == "rejected" and "barSize" in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}
