"""Stale prices over the simulator: a price whose last trade stood still while the clock moved
refuses the allocation before any order, unless the config accepts stale prices."""

from __future__ import annotations

import re

from tests.support import delivery, unique

OPEN = "2026-12-07T14:00:00-05:00"  # a Monday's regular session
LATER = "2026-12-07T14:10:00-05:00"  # ten minutes on: older than the default 300 s


def allocate(worker, intent_id: str, **params):
    return worker.handle(delivery({"intent": "allocation", "id": intent_id, "params": params}))


def test_a_stale_price_refuses_the_allocation_and_no_order_goes_out(
    make_worker, flat_sim, positions_root, results, trading_config
):
    flat_sim.call("POST", "/clock", {"now": OPEN})
    worker = make_worker(flat_sim)
    fresh = unique("stale-fresh")
    allocate(worker, fresh, dryRun=True)  # TLT trades at OPEN
    assert results.for_id(fresh)["status"] == "succeeded"
    flat_sim.call("POST", "/faults", {"halted": ["TLT"]})  # TLT stops trading ...
    flat_sim.call("POST", "/clock", {"now": LATER})  # ... while ten minutes pass
    intent_id = unique("stale")
    allocate(worker, intent_id)
    result = results.for_id(intent_id)
    assert (result["status"], result["attempts"]) == ("failed", 1)
    assert result["error"]["code"] == "stale-price" and result["error"]["retryable"] is False
    message = result["error"]["message"]
    age = re.search(r"TLT: live last price is (\d+) s old \(limit 300 s\)", message)
    assert age is not None and 500 < int(age[1]) < 700, message  # the clock flowed since OPEN
    assert "SPY" not in message and "config.allowStalePrices" in message
    assert set(result["result"]["pricedOn"]) >= {"SPY", "TLT"}  # what each price was
    assert flat_sim.api.broker.orders == {}

    trading_config.change({"maxPriceAgeSeconds": 900})  # per mode: config/paper
    longer = unique("stale-longer")
    allocate(worker, longer, dryRun=True)
    assert results.for_id(longer)["status"] == "succeeded"

    trading_config.change({"maxPriceAgeSeconds": 60, "allowStalePrices": True})
    allowed = unique("stale-allowed")
    allocate(worker, allowed)
    result = results.for_id(allowed)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["pricedOn"]["TLT"] == "live last"
    assert len(flat_sim.api.broker.orders) == 2


def test_a_closed_market_skips_before_a_stale_price_matters_and_queue_refuses_it(
    make_worker, flat_sim, positions_root, results
):
    flat_sim.call("POST", "/clock", {"now": OPEN})
    worker = make_worker(flat_sim)
    allocate(worker, unique("stale-fresh"), dryRun=True)  # SPY and TLT trade at OPEN
    flat_sim.call("POST", "/faults", {"halted": ["SPY", "TLT"]})
    flat_sim.call("POST", "/clock", {"now": "2026-12-12T12:00:00-05:00"})  # that Saturday
    skipped = unique("stale-skip")
    allocate(worker, skipped)  # whenClosed skip: nothing is sized, so nothing is stale
    result = results.for_id(skipped)
    assert result["status"] == "succeeded", result["error"]
    assert result["result"]["orders"] == [] and sorted(result["result"]["closed"]) == ["SPY", "TLT"]
    queued = unique("stale-queue")
    allocate(worker, queued, whenClosed="queue")  # DAY orders sized on Monday's prices: no
    result = results.for_id(queued)
    assert (result["status"], result["error"]["code"]) == ("failed", "stale-price")
    assert "SPY: live last price is" in result["error"]["message"]
    assert flat_sim.api.broker.orders == {}
