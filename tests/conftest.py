"""Shared fixtures: the local stack (real emulators and the worker under gunicorn)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from deploy.processes import StackError
from deploy.stack import LocalStack, StackOptions
from tests.support import Results

# Every credential a test hands the worker (user ids too). No log line of the whole run may
# contain one in any letter case: the captured output of every test and every log file of the
# stack are scanned. Canary values: shaped like nothing real.
TEST_PASSWORDS = (
    "not-a-real-password-7Q",
    "rotated-fake-password-9",
    "FIXTURE-NOT-A-SECRET-7f3a",
    "Canary-Pw-NOT-REAL-k3Z9",
    'fake"pw\\not=real:ç€-9',  # quoted, escaped and non-ASCII forms (test_credentials.py)
    "other-password-NOT-REAL-4k",
)
TEST_USERIDS = ("canary-userid-NOT-REAL-5q", "fixture-user", "other-userid-NOT-REAL-9z")
TEST_SECRETS = TEST_PASSWORDS + TEST_USERIDS
_leaks: list[str] = []

# No timed assertions (speed figures belong to `make bench`): a property test never fails because
# one example took longer than hypothesis' default 200 ms, which on this shared machine, or beside
# the fast lane's second worker, says nothing about the code.
hypothesis_settings.register_profile("project", deadline=None)
hypothesis_settings.load_profile("project")


def leaked(text: str) -> list[str]:
    """The test credentials found in `text`, compared without regard to letter case."""
    folded = text.casefold()
    return [secret for secret in TEST_SECRETS if secret.casefold() in folded]


# Tests use their own short timeouts so that "unavailable" turns into a 503 quickly.
TEST_WORKER_ENV = {
    "FIRESTORE_TIMEOUT_SECONDS": "2",
    "PUBLISH_TIMEOUT_SECONDS": "3",
    "MAX_ATTEMPTS": "5",
}


# The fast lane (`make test-fast`, and cloudbuild.yaml's lint-and-test inside the worker image)
# runs `-m "not stack and not java and not image"`: no emulator, no JVM, no image.
FAST_LANE = "not stack and not java and not image"
# Programs only a marked test may start (the emulators are Java programs started through gcloud;
# a test's own stand-in named gcloud is not the real one).
_NEEDS_MARK = {"java": "java", "javac": "java", "gcloud": "stack", "buildah": "image"}
_REAL = {name: shutil.which(name) for name in _NEEDS_MARK}


def _program(args: object, env: dict[str, str] | None) -> str | None:
    """The name of the marked program `args` starts, if it starts the real one."""
    if isinstance(args, str | bytes | os.PathLike):
        return None  # a shell command line: not how the project starts these
    first = os.fsdecode(args[0]) if args else ""  # type: ignore[index]
    name = Path(first).name
    if name not in _NEEDS_MARK or _REAL[name] is None:
        return None
    path = first if os.sep in first else shutil.which(first, path=(env or os.environ).get("PATH"))
    real = os.path.realpath(_REAL[name])  # type: ignore[arg-type]
    return name if path is not None and os.path.realpath(path) == real else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the local stack or a JVM by the fixtures it uses, so that the
    fast lane runs the rest alone (as the image build does, where neither exists)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "stack" in fixtures or item.path.name == "test_stack.py":
            item.add_marker(pytest.mark.stack)
        if "java_properties" in fixtures:
            item.add_marker(pytest.mark.java)


@pytest.fixture(autouse=True)
def only_marked_tests_start_infrastructure(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unmarked test that starts a local stack, a JVM, gcloud or buildah fails at once, so
    the fast lane never depends on them by accident."""
    marks = {mark.name for mark in request.node.iter_markers()}
    if "stack" not in marks:

        def refuse_stack(self: LocalStack) -> LocalStack:
            raise AssertionError(f"{request.node.nodeid} starts a LocalStack: mark it `stack`")

        monkeypatch.setattr(LocalStack, "start", refuse_stack)
    popen_init = subprocess.Popen.__init__

    def checked_init(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        program = _program(args, kwargs.get("env"))
        if program is not None and _NEEDS_MARK[program] not in marks:
            needed = _NEEDS_MARK[program]
            raise AssertionError(f"{request.node.nodeid} runs {program}: mark it `{needed}`")
        popen_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", checked_init)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    captured = "\n".join(content for _, content in report.sections)
    if leaked(captured):
        _leaks.append(f"the captured output of {report.nodeid} ({report.when})")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    for where in _leaks:
        terminalreporter.write_line(f"CREDENTIAL LEAKED: {where}", red=True)


def _scan_logs(local: LocalStack) -> None:
    for path in sorted(local.log_dir.rglob("*")):
        if path.is_file() and leaked(path.read_text(errors="replace")):
            _leaks.append(f"the stack's log file {path}")


@pytest.fixture(autouse=True)
def secrets_of_this_test_only() -> Iterator[None]:
    """Secrets a test registers with the log redactor (its canaries, hypothesis' arbitrary
    credentials) are forgotten after it: a short one would mask words in later tests' logs."""
    from worker import logs

    with logs._secrets_lock:
        saved = (set(logs._secrets), logs._secret_values)
    yield
    with logs._secrets_lock:
        logs._secrets.clear()
        logs._secrets.update(saved[0])
        logs._secret_values = saved[1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(
        state_dir=tmp_path_factory.mktemp("devstack"),
        worker_env=TEST_WORKER_ENV,
        retry_backoff=(1, 2),
    )
    local = LocalStack(options, quiet=True)
    try:
        local.start()
    except StackError as exc:
        pytest.fail(f"the local stack did not start:\n{exc}", pytrace=False)
    try:
        yield local
    finally:
        local.stop()
        _scan_logs(local)


@pytest.fixture(scope="session")
def db(stack: LocalStack):
    from google.cloud import firestore

    assert os.environ["FIRESTORE_EMULATOR_HOST"].endswith(str(stack.firestore_port))
    return firestore.Client(project=stack.options.project)


@pytest.fixture
def positions_root(db):
    """Empty paper holdings and unreconciled orders before the test, whatever an earlier test (of
    any package, in any order, or the demo) left, and after it: an allocation then orders its
    whole targets."""
    root = db.collection("positions").document("paper")

    def clear() -> None:
        for name in ("holdings", "openOrders", "booked"):
            for doc in root.collection(name).list_documents():
                doc.delete()

    clear()
    yield root
    clear()


@pytest.fixture
def results(stack: LocalStack) -> Iterator[Results]:
    """A fresh subscription on `intent-results`, so each test sees only what it caused."""
    tap = Results(stack)
    try:
        yield tap
    finally:
        tap.close()


@pytest.fixture
def worker_env(stack):
    """Restart the stack's worker with extra settings; restore it afterwards."""
    original = dict(stack.options.worker_env)

    def restart(**env: str) -> None:
        stack.options.worker_env = dict(original)
        stack.restart_worker(**env)

    yield restart
    stack.options.worker_env = original
    stack.restart_worker()
