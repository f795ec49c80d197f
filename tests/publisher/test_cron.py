from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.cron import CronError, next_runs, validate


@pytest.mark.parametrize(
    "expression",
    [
        "0 9 * * MON-FRI",
        "*/15 * * * *",
        "0 0 1 JAN,JUL *",
        "30 22 * * 1-5",
        "0 12 1-7 * 0",
        "5 4 * * 7",
    ],
)
def test_valid(expression):
    validate(expression)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 9 * *", "expected 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour: 24 is outside 0-23"),
        ("0 0 0 * *", "day of month: 0 is outside 1-31"),
        ("0 0 * FOO *", "month: 'FOO' is not a number or one of JAN"),
        ("0 0 * * FRI-MON", "runs backwards"),
        ("*/0 * * * *", "bad step"),
    ],
)
def test_invalid_names_the_field(expression, words):
    with pytest.raises(CronError, match=words):
        validate(expression)


@given(
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    after=st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1)),
)
def test_next_runs_of_a_daily_time_in_utc(minute, hour, after):
    after = after.replace(tzinfo=UTC)
    runs = next_runs(f"{minute} {hour} * * *", UTC, after, 3)
    first = after.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if first <= after:
        first += timedelta(days=1)
    assert runs == [first, first + timedelta(days=1), first + timedelta(days=2)]


@given(
    expression=st.tuples(
        st.sampled_from(["*", "0", "*/15", "5,35", "10-20/5"]),
        st.sampled_from(["*", "9", "1-5", "*/6"]),
        st.sampled_from(["*", "1", "15", "1-7", "31"]),
        st.sampled_from(["*", "2", "JAN,JUL", "11-12"]),
        st.sampled_from(["*", "MON-FRI", "0", "7", "SAT,SUN"]),
    ).map(" ".join),
    zone=st.sampled_from(["Europe/Zurich", "America/New_York", "Australia/Lord_Howe", "UTC"]),
    after=st.datetimes(datetime(2024, 1, 1), datetime(2030, 1, 1)),
)
def test_next_runs_are_later_and_in_order(expression, zone, after):
    after = after.replace(tzinfo=UTC)
    runs = next_runs(expression, ZoneInfo(zone), after, 3)
    assert runs == sorted(set(runs)) and all(run > after for run in runs)
    assert all(run.utcoffset() is not None for run in runs)
