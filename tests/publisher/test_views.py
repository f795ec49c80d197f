"""What people read: orders with fills, event lines, holdings beside IB, the account series,
and the CLI's text of them (no stack needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from publisher import digest, holdings_view, views
from publisher.holdings_read import Holdings

T0 = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def _allocation() -> tuple[dict, list[dict]]:
    record = {
        "id": "a1",
        "intent": "allocation",
        "tradingMode": "paper",
        "status": "succeeded",
        "receivedAt": T0,
        "finishedAt": T0 + timedelta(seconds=3),
        "params": {"strategies": ["static-weights"]},
        "result": {
            "trades": [
                {"orderRef": "a1:alloc:1", "symbol": "SPY", "action": "BUY", "quantity": 10},
                {"orderRef": "a1:alloc:2", "symbol": "TLT", "action": "SELL", "quantity": 5},
            ],
            "orders": [
                {
                    "orderRef": "a1:alloc:1",
                    "symbol": "SPY",
                    "action": "BUY",
                    "quantity": 10,
                    "status": "Filled",
                    "filled": 10,
                    "avgFillPrice": 500.5,
                    "conId": 756733,
                },
            ],
            "netLiquidation": 100000.0,
        },
    }
    events = [
        {"type": "received", "at": T0, "owner": "w1", "messageId": "m1"},
        {
            "type": "order placed",
            "at": T0,
            "orderRef": "a1:alloc:2",
            "symbol": "TLT",
            "action": "SELL",
            "quantity": 5,
            "orderId": 7,
        },
        {
            "type": "fill",
            "at": T0,
            "orderRef": "a1:alloc:1",
            "execId": "e1",
            "shares": 4,
            "price": 500.0,
        },
        {
            "type": "fill",
            "at": T0,
            "orderRef": "a1:alloc:1",
            "execId": "e2",
            "shares": 6,
            "price": 501.0,
        },
        {"type": "finished", "at": T0, "status": "succeeded", "error": None},
    ]
    return record, events


def test_orders_merge_the_plan_the_broker_and_the_fills() -> None:
    record, events = _allocation()
    by_ref = {o["orderRef"]: o for o in digest.orders(record, events)}
    spy, tlt = by_ref["a1:alloc:1"], by_ref["a1:alloc:2"]
    assert (spy["status"], spy["filled"], spy["avgFillPrice"]) == ("Filled", 10, 500.5)
    assert [f["shares"] for f in spy["fills"]] == [4, 6]
    assert (tlt["status"], tlt["orderId"]) == ("placed", 7)  # placed, no outcome recorded


def test_fills_alone_give_the_filled_quantity_and_average_price() -> None:
    record = {"result": {"trades": [{"orderRef": "x:1", "symbol": "SPY", "quantity": 10}]}}
    events = [
        {"type": "fill", "orderRef": "x:1", "execId": "a", "shares": 4, "price": 10.0},
        {"type": "fill", "orderRef": "x:1", "execId": "b", "shares": 6, "price": 20.0},
    ]
    [order] = digest.orders(record, events)
    assert order["filled"] == 10 and order["avgFillPrice"] == 16.0


def test_batch_steps_orders_are_found() -> None:
    record = {
        "result": {
            "steps": [
                {
                    "step": 1,
                    "result": {
                        "orders": [
                            {"orderRef": "b:s1:alloc:1", "symbol": "SPY", "status": "Filled"}
                        ]
                    },
                }
            ]
        }
    }
    assert [o["orderRef"] for o in digest.orders(record, [])] == ["b:s1:alloc:1"]


def test_event_lines() -> None:
    assert digest.describe({"type": "gateway started", "startMs": 1234}) == "in 1,234 ms"
    assert (
        digest.describe({"type": "fill", "orderRef": "r", "shares": 3, "reconciledBy": "rec-1"})
        == "3 of r, reconciled by rec-1"
    )
    failed = {"type": "finished", "status": "failed", "error": {"code": "x", "message": "boom"}}
    assert digest.describe(failed) == "failed: boom"
    assert digest.is_bad_event(failed) and not digest.is_bad_event({"type": "claimed"})


def test_holdings_text_says_how_old_ibs_picture_is_and_flags_only_real_differences() -> None:
    snapshot = holdings_view.Snapshot(T0, "summary", "s1", {"1": 10.0, "3": 2.0})
    fills = [holdings_view.Fill("a:alloc:2", "2", 1.0, T0 + timedelta(minutes=1))]
    view = holdings_view.compare(
        {"a": {"1": 6.0, "2": 1.0}, "b": {"1": 4.0}}, snapshot, fills, [], {"1": "SPY", "3": "QQQ"}
    )
    text = views.holdings_text("paper", Holdings(view, {}, {}))
    assert f"IB positions as of {digest.fmt_time(T0)} (summary s1); 1 order filled since" in text
    assert text.count("DIFFERS BY") == 1  # QQQ: IB holds 2, no strategy does, no fill since
    assert "matches with 1 order filled since" in text  # conId 2
    assert "trade-reconciliation would not change it" in text


def test_account_series_is_oldest_first_and_skips_failures() -> None:
    records = [
        {
            "status": "succeeded",
            "finishedAt": T0 + timedelta(days=1),
            "result": {
                "baseCurrency": "USD",
                "values": {"NetLiquidation": 2.0, "TotalCashValue": 1.0},
            },
        },
        {"status": "failed", "finishedAt": T0, "result": {}},
        {
            "status": "succeeded",
            "finishedAt": T0,
            "result": {"baseCurrency": "USD", "values": {"NetLiquidation": 1.0}},
        },
    ]
    points = digest.account_series(records)
    assert [p.net_liquidation for p in points] == [1.0, 2.0]
    assert points[0].cash is None


def test_show_text_has_every_part() -> None:
    record, events = _allocation()
    text = views.show_text(record, events)
    assert text.startswith("allocation a1 (paper): succeeded")
    assert "duration      3.0 s" in text
    assert "fill 4 @ 500 at 2026-01-05 14:00:00 UTC (execId e1)" in text
    assert "netLiquidation: 100,000" in text
    assert "order placed" in text and "SELL 5 TLT (orderRef a1:alloc:2, orderId 7)" in text


def test_result_text_lists_orders_and_never_cuts() -> None:
    long = {"orderRef": "r" * 300, "symbol": "SPY", "action": "BUY", "quantity": 1}
    result = {
        "intent": "allocation",
        "id": "x",
        "status": "succeeded",
        "attempts": 1,
        "timings": {"totalMs": 5},
        "result": {"orders": [long], "note": "n" * 500},
    }
    text = views.result_text(result)
    assert "r" * 300 in text and "n" * 500 in text


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_result_renders_as_text(value) -> None:
    result = {
        "intent": "x",
        "id": "y",
        "status": "failed",
        "attempts": 0,
        "result": {"v": value},
        "error": {"message": "m"},
    }
    assert views.result_text(result).startswith("x y: failed")
    assert isinstance(views.show_text({"result": {"v": value}, "params": {"v": value}}, []), str)


def test_next_runs_follow_cron_in_the_job_time_zone() -> None:
    from zoneinfo import ZoneInfo

    from publisher.cron import next_runs

    new_york = ZoneInfo("America/New_York")
    friday_evening = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
    runs = next_runs("45 15 * * MON-FRI", new_york, friday_evening)
    assert [r.strftime("%a %d %H:%M %Z") for r in runs] == [
        "Mon 09 15:45 EDT",  # the clocks changed on Sunday the 8th
        "Tue 10 15:45 EDT",
        "Wed 11 15:45 EDT",
    ]
    # 02:30 does not exist on 8 March 2026 in New York: that day does not fire.
    skipped = next_runs("30 2 * * *", new_york, datetime(2026, 3, 7, 12, tzinfo=UTC), 2)
    assert [r.day for r in skipped] == [9, 10]
    # Day of month OR day of week when both are given; steps; leap days years away.
    either = next_runs("0 9 1 * MON", new_york, datetime(2026, 3, 28, tzinfo=UTC), 3)
    assert [r.strftime("%m-%d") for r in either] == ["03-30", "04-01", "04-06"]
    assert len(next_runs("*/20 9 * * 7", new_york, friday_evening, 3)) == 3
    assert next_runs("0 0 29 2 *", new_york, friday_evening, 1)[0].year == 2028
