"""The "Adding a strategy" and "Adding an intent" examples of docs/intents.md (once the README's),
exactly as written there, registered in-process and run: the strategy against the simulator, the
intent alone and in a batch (with its schema next to copies of the others, and no other file
edited)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import ib_async
import pytest
import yaml

from publisher.trading_config import ConfigFileError, load_file
from tests.support import delivery, pipeline, unique
from tests.worker.intents.conftest import TEST_CONFIG
from worker import intent_registry
from worker.strategies import registry as strategy_registry
from worker.trading.config import merge

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "intents.md"


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"{title}\n")
    following = re.search(r"^#{2,3} ", text[start + len(title) + 1 :], re.MULTILINE)
    return text[start : start + len(title) + 1 + (following.start() if following else len(text))]


def block(text: str, language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"no {language} block"
    return found.group(1)


@pytest.fixture
def momentum_lite():
    text = section("## Adding a strategy")
    exec(compile(block(text, "python"), "docs/intents.md", "exec"), {"__name__": "readme_strategy"})
    yield yaml.safe_load(block(text, "yaml"))
    strategy_registry._strategies.pop("momentum-lite")


@pytest.fixture
def hello(tmp_path):
    text = section("## Adding an intent")
    exec(compile(block(text, "python"), "docs/intents.md", "exec"), {"__name__": "readme_intent"})
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    (schemas / "intents" / "hello.schema.json").write_text(block(text, "json"))
    yield schemas
    intent_registry._registry.pop("hello")


def test_the_strategy_example_trades_against_the_simulator(
    make_worker, flat_sim, momentum_lite, trading_config, positions_root, results, tmp_path
):
    # config.yaml with the page's lines added passes `config apply`'s checks.
    with_it = tmp_path / "config.yaml"
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    with_it.write_text(
        yaml.safe_dump({**shipped, "common": merge(shipped["common"], momentum_lite["common"])})
    )
    assert load_file(with_it)["common"]["exposure"]["strategies"]["momentum-lite"] == 0.5
    trading_config.replace(merge(copy.deepcopy(TEST_CONFIG), momentum_lite["common"]))
    settings = momentum_lite["common"]["strategies"]["momentum-lite"]
    intent_id = unique("momentum")
    make_worker(flat_sim).handle(
        delivery(
            {"intent": "allocation", "id": intent_id, "params": {"strategies": ["momentum-lite"]}}
        )
    )
    result = results.for_id(intent_id)
    assert result["status"] == "succeeded", result["error"]
    # The same bars, asked for independently (at once: the simulator's pacing would refuse it).
    flat_sim.state.faults.pacing_limits = False
    client = ib_async.IB()
    client.connect("127.0.0.1", flat_sim.port, clientId=91, timeout=5)
    try:
        moves = {}
        for key in settings["instruments"]:
            contract = client.qualifyContracts(ib_async.Stock(key, "SMART", "USD"))[0]
            bars = client.reqHistoricalData(
                contract, "", f"{settings['lookbackDays']} D", "1 day", "TRADES", True
            )
            moves[key] = bars[-1].close / bars[0].close - 1
    finally:
        client.disconnect()
    best = max(moves, key=moves.get)
    expected = {best: 1.0} if moves[best] > 0 else {}
    assert result["result"]["signals"] == {"momentum-lite": expected}
    orders = result["result"]["orders"]
    assert [(o["symbol"], o["action"]) for o in orders] == [(k, "BUY") for k in expected]
    held = positions_root.collection("holdings").document("momentum-lite").get().to_dict() or {}
    assert sorted(held.get("positions", {}).values()) == [o["quantity"] for o in orders]


def test_without_its_code_the_strategys_config_is_refused(tmp_path):
    text = section("## Adding a strategy")
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    lines = yaml.safe_load(block(text, "yaml"))
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({**shipped, "common": merge(shipped["common"], lines["common"])})
    )
    with pytest.raises(ConfigFileError, match="no strategy 'momentum-lite' is registered"):
        load_file(path)


def test_the_intent_example_runs_alone_and_in_a_batch(stack, hello, results):
    worker = pipeline(stack, SCHEMAS_DIR=str(hello))
    try:
        alone, batch, bad, nobody = (unique("hello") for _ in range(4))
        worker.handle(delivery({"intent": "hello", "id": alone, "params": {"name": "Ada"}}))
        steps = [{"intent": "hello", "params": {"name": "Bo"}}, {"intent": "ping"}]
        worker.handle(delivery({"intent": "batch", "id": batch, "params": {"steps": steps}}))
        worker.handle(delivery({"intent": "hello", "id": bad, "params": {"nmae": "x"}}))
        worker.handle(delivery({"intent": "hello", "id": nobody, "params": {"name": "nobody"}}))
    finally:
        worker.session.close()
    assert results.for_id(alone)["result"] == {"greeting": "hello Ada from paper"}
    ran = results.for_id(batch)
    assert ran["status"] == "succeeded", ran["error"]
    assert ran["result"]["steps"][0]["result"] == {"greeting": "hello Bo from paper"}
    rejected = results.for_id(bad)
    assert (rejected["status"], rejected["error"]["code"]) == ("rejected", "bad-params")
    assert "params.nmae" in rejected["error"]["message"]
    failed = results.for_id(nobody)
    assert (failed["status"], failed["error"]["code"]) == ("failed", "bad-name")


def test_the_intent_lists_come_from_the_schema_files(hello):
    from worker.message import intent_names, schemas

    derived = schemas(hello)
    assert "hello" in intent_names(hello)
    assert "hello" in derived["intent"]["properties"]["intent"]["enum"]
    step = derived["intents/batch"]["properties"]["steps"]["items"]
    assert "hello" in step["properties"]["intent"]["enum"]
    assert "batch" not in step["properties"]["intent"]["enum"]
    checked = {rule["if"]["properties"]["intent"]["const"] for rule in step["allOf"]}
    assert checked == set(step["properties"]["intent"]["enum"])
    assert (
        json.loads((ROOT / "schemas" / "intent.schema.json").read_text())["properties"][
            "intent"
        ].get("enum")
        is None
    )  # nothing to keep in step by hand
