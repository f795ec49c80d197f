import pytest

from publisher.cron import CronError, validate


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
