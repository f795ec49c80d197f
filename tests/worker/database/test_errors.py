"""The Firestore layer's error mapping (worker/database/errors.py), with Google's own exception
classes and fake clients, no emulator: one error for "Firestore is down", a refusal only for a
writer's invalid request, and a writer's conflicts passed through for it to decide on."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from google.api_core import exceptions
from google.auth import exceptions as auth_exceptions
from hypothesis import given
from hypothesis import strategies as st

from worker.database import Database, NoCredentials, Options, StoreRefused, StoreUnavailable
from worker.database.errors import mapped

CONFLICTS = (
    exceptions.AlreadyExists,
    exceptions.FailedPrecondition,
    exceptions.Conflict,
    exceptions.NotFound,
    exceptions.Aborted,  # a Conflict: a transaction's lost race, begun again by transact()
)
GOOGLE_ERRORS = sorted(
    (
        c
        for c in vars(exceptions).values()
        if inspect.isclass(c) and issubclass(c, exceptions.GoogleAPICallError)
    ),
    key=lambda c: c.__name__,
)


def _raised(error: BaseException, *, decides_conflicts: bool) -> BaseException:
    with pytest.raises(BaseException) as caught, mapped(decides_conflicts=decides_conflicts):
        raise error
    return caught.value


@pytest.mark.parametrize("kind", GOOGLE_ERRORS, ids=lambda c: c.__name__)
def test_a_reader_hears_one_error_for_every_google_error(kind: type[Exception]) -> None:
    error = kind("it went wrong")
    raised = _raised(error, decides_conflicts=False)
    assert type(raised) is StoreUnavailable
    assert str(raised) == f"Firestore is not answering ({kind.__name__})"
    assert raised.__cause__ is error


@pytest.mark.parametrize("kind", GOOGLE_ERRORS, ids=lambda c: c.__name__)
def test_a_writer_decides_on_conflicts_and_hears_the_rest_as_one_error(
    kind: type[Exception],
) -> None:
    error = kind("it went wrong")
    raised = _raised(error, decides_conflicts=True)
    if issubclass(kind, CONFLICTS):
        assert raised is error  # Google's own, for the claim or the lease to act on
    elif issubclass(kind, exceptions.InvalidArgument):
        assert type(raised) is StoreRefused and raised.__cause__ is error
    else:
        assert type(raised) is StoreUnavailable and raised.__cause__ is error


def test_retries_that_ran_out_are_unavailable_for_either() -> None:
    for decides in (True, False):
        error = exceptions.RetryError("deadline", exceptions.ServiceUnavailable("down"))
        raised = _raised(error, decides_conflicts=decides)
        assert type(raised) is StoreUnavailable and "RetryError" in str(raised)


def test_no_credentials_is_its_own_kind_of_unavailable() -> None:
    for decides in (True, False):
        raised = _raised(auth_exceptions.DefaultCredentialsError("none"), decides_conflicts=decides)
        assert isinstance(raised, NoCredentials) and isinstance(raised, StoreUnavailable)
        assert "gcloud auth application-default login" in str(raised)


@pytest.mark.parametrize("error", [ValueError("x"), KeyError("k"), RuntimeError("r")])
def test_errors_that_are_not_google_s_pass_untouched(error: Exception) -> None:
    for decides in (True, False):
        assert _raised(error, decides_conflicts=decides) is error


def test_the_name_of_what_was_asked_is_in_the_error() -> None:
    with (
        pytest.raises(StoreUnavailable, match=r"^Firestore transaction is not answering"),
        mapped("Firestore transaction"),
    ):
        raise exceptions.ServiceUnavailable("down")


@given(st.text())
def test_a_refusal_says_why_in_one_short_line(text: str) -> None:
    raised = _raised(exceptions.InvalidArgument(text), decides_conflicts=True)
    assert isinstance(raised, StoreRefused)
    message = str(raised)
    assert message.startswith("Firestore refused the write: ")
    assert "\n" not in message and "\r" not in message
    assert len(message) <= len("Firestore refused the write: ") + 200


# -- through Database, with fakes ----------------------------------------------------------


class FakeRef:
    """A document reference whose calls fail with `error`, recording the options they got."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def _call(self, **options: Any) -> str:
        self.calls.append(options)
        if self.error is not None:
            raise self.error
        return "done"

    def get(self, **options: Any) -> str:
        return self._call(**options)

    def set(self, document: dict[str, Any], **options: Any) -> str:
        return self._call(**options)

    def stream(self, **options: Any) -> list[str]:
        return [self._call(**options)]


class FakeClient:
    def batch(self) -> str:
        return "a batch"

    def write_option(self, **precondition: Any) -> dict[str, Any]:
        return precondition


def test_every_call_goes_out_with_the_configured_deadline_and_the_one_retry() -> None:
    db, ref = Database(Options("p", 3.5), FakeClient()), FakeRef()
    assert db.get(ref) == "done"
    assert db.do(ref.set, {"a": 1}) == "done"
    assert db.stream(ref) == ["done"]
    for options in ref.calls:
        assert options["timeout"] == 3.5
        assert options["retry"].timeout == 3.5  # retries stay within the same deadline


@pytest.mark.parametrize("decides", [True, False])
def test_database_calls_map_errors_by_who_asks(decides: bool) -> None:
    db = Database(Options(), FakeClient(), decides_conflicts=decides)
    conflict = exceptions.AlreadyExists("exists")
    if decides:
        with pytest.raises(exceptions.AlreadyExists):
            db.do(FakeRef(conflict).set, {})
    else:
        with pytest.raises(StoreUnavailable):
            db.do(FakeRef(conflict).set, {})
    with pytest.raises(StoreUnavailable, match="ServiceUnavailable"):
        db.get(FakeRef(exceptions.ServiceUnavailable("down")))


def test_batches_and_preconditions_come_from_the_layer() -> None:
    db = Database(Options(), FakeClient())
    assert db.batch() == "a batch"
    assert db.unchanged_since("t1") == {"last_update_time": "t1"}


def test_a_process_without_credentials_hears_no_credentials(monkeypatch) -> None:
    from google.cloud import firestore

    def refuse(**_: Any) -> None:
        raise auth_exceptions.DefaultCredentialsError("no ADC")

    monkeypatch.setattr(firestore, "Client", refuse)
    db = Database(Options("p", 1.0), decides_conflicts=False)
    with pytest.raises(NoCredentials):
        db.get(db.document("config", "common"))


def test_the_layer_s_errors_are_the_project_s() -> None:
    from worker import exceptions as project

    for error in (StoreUnavailable, NoCredentials, StoreRefused):
        assert issubclass(error, project.WorkerError)
    # Every error of the project's has the one base, but the interruptions, which intent code's
    # `except Exception` must not swallow.
    for name, value in vars(project).items():
        if inspect.isclass(value) and issubclass(value, BaseException):
            if value.__module__ != project.__name__:
                continue
            assert issubclass(value, project.WorkerError) != issubclass(
                value, project.Interrupted
            ), name
