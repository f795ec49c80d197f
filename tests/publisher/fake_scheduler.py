"""Cloud Scheduler's service in memory, behind the client library's own methods and signatures
(Cloud Scheduler has no emulator). Jobs are the library's real `scheduler_v1.Job` messages."""

from __future__ import annotations

from google.api_core import exceptions
from google.api_core.gapic_v1.method import DEFAULT
from google.cloud import scheduler_v1


class FakeScheduler:
    def __init__(self, jobs: list[scheduler_v1.Job] | None = None) -> None:
        self.jobs = {job.name: scheduler_v1.Job(job) for job in jobs or []}
        self.calls: list[tuple[str, str]] = []
        self.fail: Exception | None = None  # raised by the next call, as the service would

    def _enter(self, verb: str, what: str, timeout: object) -> None:
        assert timeout is not DEFAULT, "every call has a deadline"
        self.calls.append((verb, what))
        if self.fail is not None:
            raise self.fail

    def list_jobs(self, request=None, *, parent=None, retry=DEFAULT, timeout=DEFAULT, metadata=()):
        self._enter("list", parent, timeout)
        return [
            scheduler_v1.Job(j) for n, j in self.jobs.items() if n.startswith(f"{parent}/jobs/")
        ]

    def create_job(
        self, request=None, *, parent=None, job=None, retry=DEFAULT, timeout=DEFAULT, metadata=()
    ):
        self._enter("create", job.name, timeout)
        if not job.name.startswith(f"{parent}/jobs/"):
            raise exceptions.InvalidArgument(f"job {job.name} is not in {parent}")
        if job.name in self.jobs:
            raise exceptions.AlreadyExists(f"job {job.name} exists")
        self.jobs[job.name] = scheduler_v1.Job(job)
        return job

    def update_job(
        self,
        request=None,
        *,
        job=None,
        update_mask=None,
        retry=DEFAULT,
        timeout=DEFAULT,
        metadata=(),
    ):
        self._enter("update", job.name, timeout)
        if job.name not in self.jobs:
            raise exceptions.NotFound(f"job {job.name} not found")
        stored = self.jobs[job.name]
        for path in update_mask.paths:
            setattr(stored, path, getattr(job, path))
        return stored

    def delete_job(self, request=None, *, name=None, retry=DEFAULT, timeout=DEFAULT, metadata=()):
        self._enter("delete", name, timeout)
        if self.jobs.pop(name, None) is None:
            raise exceptions.NotFound(f"job {name} not found")
