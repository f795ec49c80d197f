"""The holdings views' decision (publisher/holdings_view.py): which picture of IB's positions,
what fills since it explain, and when a difference is a problem. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from publisher import holdings_view as hv
from publisher.holdings_view import Fill, Snapshot, Unreconciled

T0 = datetime(2026, 12, 6, 4, 2, 26, tzinfo=UTC)
SPY, TLT = "756733", "15547841"
NAMES = {SPY: "SPY", TLT: "TLT"}


def summary(at: datetime = T0, positions: dict[str, float] | None = None) -> Snapshot:
    return Snapshot(at, "summary", "sum-1", positions or {})


def fill(con_id: str, quantity: float, at: datetime, ref: str = "a:alloc:1") -> Fill:
    return Fill(ref, con_id, quantity, at)


def test_the_issue_sequence_summary_then_allocation_is_not_a_difference():
    """A summary of an empty account, then an allocation that fills SPY 66 and TLT 265: the
    fills booked since explain both, nothing is a problem and the view says so."""
    held = {"static-weights": {SPY: 66.0, TLT: 265.0}}
    fills = [fill(SPY, 66, T0 + timedelta(seconds=30)), fill(TLT, 265, T0 + timedelta(seconds=31))]
    view = hv.compare(held, summary(), fills, [], NAMES)
    assert [r.verdict for r in view.rows] == ["filled-since", "filled-since"]
    assert [(r.symbol, r.ib, r.since, r.expected) for r in view.rows] == [
        ("SPY", 0.0, 66.0, 66.0),
        ("TLT", 0.0, 265.0, 265.0),
    ]
    assert view.level == "unconfirmed" and view.count("differs") == 0
    assert view.freshness() == (
        "IB positions as of 2026-12-06 04:02:26 UTC (summary sum-1); 2 orders filled since, "
        "included"
    )
    assert view.advice == "A fresh summary confirms them."
    assert "reconciliation" not in (view.headline or "") + (view.advice or "")


def test_the_picture_an_allocation_saw_after_its_orders_wins_and_matches():
    older = summary()
    seen = Snapshot(T0 + timedelta(minutes=1), "allocation", "alloc-1", {SPY: 66.0, TLT: 265.0})
    assert hv.freshest([older, None, seen]) is seen
    held = {"static-weights": {SPY: 66.0, TLT: 265.0}}
    fills = [fill(SPY, 66, T0 + timedelta(seconds=50))]  # booked before the allocation looked
    view = hv.compare(held, seen, fills, [], NAMES)
    assert {r.verdict for r in view.rows} == {"matches"} and view.level == "ok"
    assert view.headline is None and view.advice is None and view.included == 0


def test_a_position_changed_at_the_broker_is_a_difference_with_advice_that_changes_it():
    # A fresh summary after the allocation: IB holds 16 SPY fewer than the strategies.
    fresh = summary(T0 + timedelta(minutes=5), {SPY: 50.0, TLT: 265.0})
    held = {"static-weights": {SPY: 66.0, TLT: 265.0}}
    fills = [fill(SPY, 66, T0 + timedelta(seconds=30))]  # before the fresh summary
    view = hv.compare(held, fresh, fills, [], NAMES)
    spy, tlt = view.rows
    assert (spy.verdict, spy.difference, spy.check) == ("differs", 16.0, "differs by 16")
    assert tlt.verdict == "matches"
    assert view.level == "problem" and view.headline == "1 instrument differs from IB's positions."
    assert "trade-reconciliation would not change it" in view.advice
    assert "TWS" in view.advice


def test_a_difference_unreconciled_orders_can_explain_waits_for_reconciliation():
    fresh = summary(T0, {SPY: 40.0})
    waiting = [Unreconciled("b:alloc:1", SPY, 66.0)]  # part filled, not booked
    view = hv.compare({}, fresh, [], waiting, NAMES)
    (row,) = view.rows
    assert row.verdict == "unreconciled" and view.level == "waiting"
    assert "Run trade-reconciliation once those orders have filled" in view.advice
    # A sell order cannot explain IB holding more.
    other = hv.compare({}, fresh, [], [Unreconciled("c", SPY, -66.0)], NAMES)
    assert other.rows[0].verdict == "differs"


def test_a_fill_booked_after_the_picture_may_already_be_in_it():
    # The summary saw the fill; trade-reconciliation booked it a minute later.
    fresh = summary(T0, {SPY: 66.0})
    view = hv.compare({"a": {SPY: 66.0}}, fresh, [fill(SPY, 66, T0 + timedelta(minutes=1))], [], {})
    assert view.rows[0].verdict == "matches" and view.included == 0
    assert view.rows[0].symbol == f"conId {SPY}"  # no name known: the conId, said so


def test_no_picture_is_unknown_and_asks_for_a_summary():
    view = hv.compare({"a": {SPY: 1.0}}, None, [], [], NAMES)
    assert [r.verdict for r in view.rows] == ["unknown"] and view.level == "unknown"
    assert view.advice == "A summary reports them." and "unknown" in view.freshness()


quantity = st.integers(-300, 300).map(float)


@given(
    ib=quantity,
    fills=st.lists(st.integers(-100, 100).filter(bool).map(float), max_size=5),
    before=st.integers(0, 5),
)
def test_holdings_that_equal_the_picture_plus_any_tail_of_the_fills_since_never_differ(
    ib, fills, before
):
    """Whatever fills since the picture already holds (the oldest ones), the rest explain the
    holdings: never red."""
    booked = [fill(SPY, q, T0 + timedelta(seconds=i + 1), f"r{i}") for i, q in enumerate(fills)]
    held_fills = fills[min(before, len(fills)) :]
    picture = {SPY: ib + sum(fills[: min(before, len(fills))])}
    total = picture[SPY] + sum(held_fills)
    view = hv.compare({"a": {SPY: total}}, summary(T0, picture), booked, [], NAMES)
    assert all(r.verdict in ("matches", "filled-since") for r in view.rows)
    assert all(abs(r.difference) < 1e-6 for r in view.rows)


@given(ib=quantity, total=quantity, old=st.lists(quantity, max_size=4))
def test_without_fills_since_or_open_orders_only_equality_matches(ib, total, old):
    """Fills booked before the picture explain nothing; then a row differs exactly when the
    holdings and IB's position differ, by that amount."""
    booked = [fill(SPY, q, T0 - timedelta(seconds=i + 1)) for i, q in enumerate(old)]
    view = hv.compare({"a": {SPY: total}}, summary(T0, {SPY: ib}), booked, [], NAMES)
    rows = [r for r in view.rows if r.con_id == SPY]
    if ib == total == 0:
        assert rows == []
        return
    (row,) = rows
    assert (row.verdict == "differs") == (ib != total)
    assert row.difference == total - ib


@given(extra=st.integers(1, 50).map(float), fills=st.lists(st.integers(1, 20), max_size=4))
def test_more_than_every_fill_since_can_explain_is_a_difference(extra, fills):
    """Holdings beyond the picture plus all fills since (all buys), with nothing waiting."""
    booked = [fill(SPY, q, T0 + timedelta(seconds=i + 1)) for i, q in enumerate(fills)]
    total = sum(fills) + extra
    view = hv.compare({"a": {SPY: total}}, summary(T0, {}), booked, [], NAMES)
    assert view.rows[0].verdict == "differs" and view.level == "problem"
    assert view.rows[0].difference == extra


# -- reading the records ---------------------------------------------------------------------


def test_pictures_from_records_of_each_kind_and_the_newest_of_a_batch():
    summary_record = {
        "intent": "summary",
        "id": "s1",
        "status": "succeeded",
        "finishedAt": T0,
        "result": {"portfolio": [{"conId": 756733, "symbol": "SPY", "position": 10}]},
    }
    assert hv.snapshot_of(summary_record) == Snapshot(T0, "summary", "s1", {SPY: 10.0})
    failed_summary = {**summary_record, "status": "failed"}
    assert hv.snapshot_of(failed_summary) is None
    later = T0 + timedelta(minutes=2)
    batch = {
        "intent": "batch",
        "id": "b1",
        "finishedAt": T0 + timedelta(minutes=3),
        "result": {
            "steps": [
                {"result": {"ibPositions": [], "ibPositionsAt": T0.isoformat()}},
                {
                    "result": {
                        "ibPositions": [{"symbol": "TLT", "conId": 15547841, "position": 5}],
                        "ibPositionsAt": later.isoformat(),
                    }
                },
            ]
        },
    }
    assert hv.snapshot_of(batch) == Snapshot(later, "batch", "b1", {TLT: 5.0})
    old_recon = {"intent": "trade-reconciliation", "id": "r", "finishedAt": T0, "result": {}}
    old_recon["result"]["ib"] = {SPY: 3, TLT: 0}
    assert hv.snapshot_of(old_recon) == Snapshot(T0, "trade-reconciliation", "r", {SPY: 3.0})
    assert hv.symbols_of([summary_record, batch]) == {SPY: "SPY", TLT: "TLT"}


def test_markers_and_open_orders_become_fills_and_signed_orders():
    markers = [
        {"orderRef": "a", "at": T0, "conId": 756733, "quantity": -5},
        {"orderRef": "old", "at": T0},  # written before markers named their instrument
        {"orderRef": "bad", "at": T0, "conId": 1, "quantity": "x"},
    ]
    assert hv.fills_of(markers) == [Fill("a", SPY, -5.0, T0)]
    orders = {
        "s": {"conId": 756733, "action": "SELL", "quantity": 7, "symbol": "SPY"},
        "b": {"conId": 15547841, "action": "BUY", "quantity": 3},
        "junk": {"action": "BUY"},
    }
    assert hv.unreconciled_of(orders) == [
        Unreconciled("s", SPY, -7.0),
        Unreconciled("b", TLT, 3.0),
    ]
    assert hv.symbols_of([], orders) == {SPY: "SPY"}
