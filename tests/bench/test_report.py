"""`make bench`'s table: figures readable, and a missed target fails the run."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.report import Figure, exit_code, headlines, missed, number, table


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (6.76737, "6.77"),
        (250, "250"),
        (1234.5, "1,234"),
        (0.012345, "0.0123"),
        (47.0, "47.0"),
        (0, "0"),
        (-3.14159, "-3.14"),
        (math.inf, "inf"),
    ],
)
def test_numbers_have_three_significant_digits(value, shown):
    assert number(value) == shown


@given(st.floats(min_value=1e-6, max_value=1e9))
def test_a_shown_number_is_within_half_a_percent(value):
    shown = float(number(value).replace(",", ""))
    assert abs(shown - value) <= value * 0.005 + 1e-12


def test_the_table_lines_up_and_says_met_or_missed():
    figures = [
        Figure("ping round trip, median of 200", 6.76737, "ms", 50),
        Figure(
            "10 summaries, keep-warm on", 8.123, "s", 6.76737, baseline=33.8, baseline_name="fresh"
        ),
        Figure("rejection throughput", 412.3, "deliveries/s", 200, higher_is_better=True),
    ]
    lines = table(figures).splitlines()
    assert lines[0].split() == ["figure", "measured", "target", "baseline"]
    assert "6.77 ms" in lines[1] and "<= 50 ms" in lines[1] and "met" in lines[1]
    assert "<= 6.77 s" in lines[2] and "MISSED" in lines[2] and "33.8 s (fresh) → 4.2x" in lines[2]
    assert ">= 200 deliveries/s" in lines[3]
    column = lines[0].index("measured")
    assert all(line[column - 2 : column] == "  " for line in lines)


def test_a_missed_target_fails_the_run():
    met = Figure("a", 1.0, "ms", 2.0)
    missed = Figure("b", 3.0, "ms", 2.0)
    assert exit_code([met]) == 0
    assert exit_code([met, missed]) == 1


def test_a_figure_not_judged_is_shown_against_its_target_but_never_fails_the_run():
    absolute = Figure("rejections", 65.3, "deliveries/s", 200, higher_is_better=True, judged=False)
    ratio = Figure("rejections vs floor", 0.79, "x", 0.7, higher_is_better=True)
    assert exit_code([absolute, ratio]) == 0
    assert "not reached (not judged)" in table([absolute, ratio]).splitlines()[1]
    assert exit_code([absolute, Figure("vs floor", 0.5, "x", 0.7, higher_is_better=True)]) == 1
    reached = Figure("rejections", 250, "deliveries/s", 200, higher_is_better=True, judged=False)
    assert "reached (not judged)" in table([reached]) and missed([reached]) == []


def test_issue_16_lines_come_with_their_targets_and_only_for_figures_that_have_one():
    figures = [
        Figure("ratio", 1.42, "x", 1.5, headline="ping round trip vs floor: ratio 1.42"),
        Figure("push", 12.2, "deliveries/s", 20, higher_is_better=True, headline="push: 12.2"),
        Figure("no line", 3.0, "ms", 2.0),
    ]
    assert headlines(figures).splitlines() == [
        "ping round trip vs floor: ratio 1.42 (target <= 1.50 x: met)",
        "push: 12.2 (target >= 20 deliveries/s: MISSED)",
    ]
