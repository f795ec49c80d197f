"""Readable values: trees for the templates, secrets masked, and the SVG chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dashboard import charts, shapes


def test_flat_rows_become_a_table_and_mappings_of_records_a_keyed_table() -> None:
    table = shapes.shape([{"a": 1, "b": "x"}, {"a": 2.5, "c": True}])
    assert (table.kind, table.keys) == ("table", ["a", "b", "c"])
    assert table.rows == [["1", "x", ""], ["2.50", "", "yes"]]
    assert table.numeric == [True, False, False]
    keyed = shapes.shape({"SPY": {"secType": "STK"}, "TLT": {"secType": "STK"}})
    assert keyed.kind == "table" and keyed.keys == ["", "secType"]
    assert [row[0] for row in keyed.rows] == ["SPY", "TLT"]
    nested = shapes.shape({"a": {"b": [1, 2]}, "empty": {}})
    assert nested.kind == "dict" and nested.items[0][1].items[0][1].text == "1, 2"
    assert nested.items[1][1].kind == "empty"


def test_secrets_are_masked_at_any_depth() -> None:
    value = {"gateway": {"Password": "p", "userid": "u", "apiKey": "k"}, "list": [{"token": 1}]}
    masked = shapes.redact(value)
    assert masked["gateway"] == {"Password": "••••••", "userid": "••••••", "apiKey": "••••••"}
    assert masked["list"] == [{"token": "••••••"}]
    assert "p" not in shapes.raw_json(value).split("Password")[1].split("\n")[0].replace(
        "••••••", ""
    ).strip(' ":,')


def test_sorted_keys() -> None:
    assert list(shapes.sorted_keys({"b": 1, "a": {"d": 1, "c": 2}})) == ["a", "b"]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@given(json_values)
def test_any_value_has_a_shape_and_raw_json(value) -> None:
    assert shapes.shape(value).kind in ("dict", "table", "list", "scalar", "empty")
    assert isinstance(shapes.raw_json(value), str)


def test_the_chart_is_an_accessible_svg_with_one_line_per_series() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    series = [
        charts.Series("Net", "line-net", [(t0 + timedelta(days=i), 100.0 + i) for i in range(5)]),
        charts.Series("Cash", "line-cash", [(t0, 50.0)]),
    ]
    svg = str(charts.line_chart(series, "Title <x>", "desc"))
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 6
    assert "Title &lt;x&gt;" in svg and "style=" not in svg
    assert charts.line_chart([], "t", "d") == ""


@given(st.floats(-1e12, 1e12), st.floats(-1e12, 1e12))
def test_ticks_cover_the_range(low, high) -> None:
    low, high = min(low, high), max(low, high)
    ticks = charts.nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and ticks == sorted(ticks)
