"""Cron expressions: the code lives in `worker.cron`, since the worker's `watch` intent reads
schedules too and the worker's image holds only `worker/`."""

from worker.cron import CronError, next_runs, validate

__all__ = ["CronError", "next_runs", "validate"]
