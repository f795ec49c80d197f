"""`schedules apply --dry-run` names the runs of the shipped schedules over the next year that fall
on a holiday, after an early close or in IB's reset windows: one line per marked run, grouped per
job, with counts."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher import cli, schedule_marks, schedules, schedules_apply
from publisher.cli import DEFAULT_SCHEDULES
from tests.publisher.fake_scheduler import FakeScheduler

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def dry_run(path: Path, capsys, exchange: str = "XNYS") -> str:
    args = argparse.Namespace(
        file=path,
        project=None,
        region=None,
        dry_run=True,
        prune=False,
        gateway_restart_time="23:15",
        exchange=exchange,
    )
    assert schedules_apply.run(args, now=NOW) == 0
    return capsys.readouterr().out


def write(tmp_path: Path, jobs: list[dict], **top: object) -> Path:
    path = tmp_path / "schedules.yaml"
    path.write_text(json.dumps({"location": "europe-west6", **top, "jobs": jobs}))
    return path


def section(out: str, job: str) -> list[str]:
    """The job's count line and the marked runs listed under it."""
    lines = out.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"  {job}: "))
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    return lines[start:end]


def test_the_shipped_rebalance_is_marked_on_holidays_and_early_closes(capsys):
    out = dry_run(DEFAULT_SCHEDULES, capsys)
    rebalance = section(out, "rebalance-before-close")
    assert rebalance[0] == (
        "  rebalance-before-close: 12 of 260 runs marked (10 holiday, 2 after an early close)"
    )
    marked = "\n".join(rebalance[1:])
    assert "Thu 2026-11-26 15:45 EST  holiday (XNYS closed: Thanksgiving)" in marked
    assert "Fri 2026-11-27 15:45 EST  after an early close (XNYS closed at 13:00 EST)" in marked
    assert "Thu 2026-12-24 15:45 EST  after an early close" in marked
    assert "Fri 2026-12-25 15:45 EST  holiday (XNYS closed: Christmas)" in marked
    assert (
        "Mon 2027-01-18 15:45 EST  holiday (XNYS closed: Dr. Martin Luther King Jr. Day)" in marked
    )
    assert "Fri 2027-07-02" not in marked  # a normal session before July 4th's observed Monday
    assert "Mon 2027-07-05 15:45 EDT  holiday" in marked
    dates = re.findall(r"\d{4}-\d\d-\d\d", marked)
    assert dates == sorted(dates) and len(dates) == 12


def test_the_dry_run_s_calendar_section_is_short_and_skips_what_needs_no_market(capsys):
    out = dry_run(DEFAULT_SCHEDULES, capsys)
    assert "calendar: the runs of the next 365 days against XNYS and IB's reset windows" in out
    assert "  watch-schedules: not marked (needs neither the gateway nor a market)" in out
    # 09:00 New York: before any early close, so holidays only.
    assert section(out, "morning-summary")[0].endswith("runs marked (10 holiday)")
    assert re.search(r"calendar: \d+ marked runs in 4 of 5 jobs", out)
    assert len(out.splitlines()) < 120
    assert out.rstrip().endswith("dry run: nothing changed")


def test_a_frequent_job_is_counted_not_listed_run_by_run(tmp_path, capsys):
    path = write(
        tmp_path,
        [
            {
                "name": "every-5-min-ping",
                "schedule": "*/5 * * * *",
                "intent": "ping",
                "params": {"gateway": True},
            }
        ],
        defaults={"timeZone": "America/New_York"},
    )
    lines = section(dry_run(path, capsys), "every-5-min-ping")
    assert len(lines) == 1 + schedule_marks.LINES_PER_JOB + 1
    counts = re.fullmatch(r"  every-5-min-ping: (\d+) of (\d+) runs marked \((.*)\)", lines[0])
    assert counts and int(counts[1]) > 30_000
    assert "weekend" in counts[3] and "IB's daily reset" in counts[3]
    assert "IB's weekend maintenance" in counts[3]
    assert re.fullmatch(r"    \.\.\. and \d+ more", lines[-1])


def test_another_exchange_and_an_unknown_one(tmp_path, capsys):
    out = dry_run(DEFAULT_SCHEDULES, capsys, exchange="XLON")
    assert "Mon 2027-03-29 15:45 EDT  holiday (XLON closed: Easter Monday)" in out
    with pytest.raises(schedules.ScheduleError, match="--exchange: unknown exchange 'XNOPE'"):
        dry_run(DEFAULT_SCHEDULES, capsys, exchange="XNOPE")


def test_without_the_library_only_ib_s_windows_are_marked(monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise schedule_marks.market_calendar.CalendarUnavailable("exchange_calendars is missing")

    monkeypatch.setattr(schedule_marks.market_calendar, "exchange_days", missing)
    out = dry_run(DEFAULT_SCHEDULES, capsys)
    assert "against IB's reset windows only" in out
    assert "exchange_calendars is missing: holidays and early closes are not marked" in out
    assert "  rebalance-before-close: none of 260 runs marked" in out


def test_the_real_apply_prints_the_same_section_and_the_cli_takes_the_exchange(monkeypatch, capsys):
    fake = FakeScheduler()
    monkeypatch.setattr(schedules, "real_client", lambda project, say: fake)
    args = ["schedules", "apply", "--project=p", "--region=europe-west6"]
    assert cli.main([*args, "--exchange", "XLON"]) == 0
    out = capsys.readouterr().out
    assert "against XLON and IB's reset windows" in out
    assert re.search(r"  rebalance-before-close: \d+ of \d+ runs marked \(\d+ holiday", out)
    assert out.index("calendar: ") < out.index("applied: 5 created")
    assert cli.main([*args, "--exchange", "nope"]) == 3  # EXIT_INVALID, before anything applied
    assert "--exchange: unknown exchange 'nope'" in capsys.readouterr().err
    assert len(fake.jobs) == 5
