"""Historical-data pacing over the simulator, which enforces IB's limits: the worker's throttle
keeps it from ever reporting a violation, and a violation it reports anyway is waited out."""

from __future__ import annotations

from simulator import pacing as sim_pacing
from tests.support import delivery, unique
from worker.trading import historical

SYMBOLS = ["SPY", "TLT", "QQQ", "AAPL", "IBM", "MSFT", "NVDA", "XOM", "KO", "PEP", "JNJ", "WMT"]


def collect(worker, results, intent_id: str, instruments: list[str]) -> dict:
    message = {
        "intent": "collect-market-data",
        "id": intent_id,
        "params": {"instruments": instruments, "duration": "5 D"},
    }
    worker.handle(delivery(message))
    return results.for_id(intent_id, timeout=120)


def test_the_throttle_keeps_the_simulator_from_reporting_a_violation(
    make_worker, flat_sim, results, trading_config
):
    trading_config.change(
        {f"instruments.{s}": {"symbol": s, "secType": "STK", "exchange": "SMART"} for s in SYMBOLS}
    )
    worker = make_worker(flat_sim)
    for run in ("first", "again"):  # again: each request identical to one seconds ago
        result = collect(worker, results, unique(f"paced-{run}"), SYMBOLS)
        assert (result["status"], result["attempts"]) == ("succeeded", 1), result["error"]
        assert all(result["result"]["stored"][s]["bars"] == 3 for s in SYMBOLS)
    log = sim_pacing.log_of(flat_sim.api)
    assert log.violations == 0 and len(log.answered) == 2 * len(SYMBOLS)


def test_a_violation_the_simulator_reports_is_recognised_and_waited_out(
    make_worker, flat_sim, results, monkeypatch
):
    worker = make_worker(flat_sim)
    assert collect(worker, results, unique("paced-before"), ["SPY"])["status"] == "succeeded"
    monkeypatch.setattr(historical, "_PACINGS", {})  # a restarted worker: its throttle is empty
    result = collect(worker, results, unique("paced-after"), ["SPY"])
    assert (result["status"], result["attempts"]) == ("succeeded", 1), result["error"]
    assert result["result"]["stored"]["SPY"]["bars"] == 3
    assert sim_pacing.log_of(flat_sim.api).violations == 1  # IB's 162, then asked again


def test_a_wait_past_the_deadline_fails_retryably_as_pacing_without_asking_ib(
    make_worker, flat_sim, results
):
    worker = make_worker(flat_sim, INTENT_DEADLINE_SECONDS="8")  # 6 s for waits
    assert collect(worker, results, unique("paced-first"), ["SPY", "TLT"])["status"] == "succeeded"
    again = {
        "intent": "collect-market-data",
        "id": unique("paced-again"),
        "params": {"instruments": ["SPY", "TLT"], "duration": "5 D"},
    }
    answer = worker.handle(delivery(again))  # identical requests within 15 s: a wait of ~15 s
    assert answer.status == 503, answer.body  # Pub/Sub delivers it again later
    error = answer.body["error"]
    assert error["code"] == "pacing" and error["retryable"] is True
    assert "IB's pacing limits for historical data hold SPY" in error["message"]
    log = sim_pacing.log_of(flat_sim.api)
    assert log.violations == 0 and len(log.answered) == 2  # nothing was sent to be refused
