"""deploy/setup.sh against a stand-in `gcloud`: dry runs, a first run, a second run, bad arguments.

The script runs with a PATH that holds a stub `gcloud` (it records its argv and standard input)
and links to the few system tools the script uses, never the real gcloud.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy import stack

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "deploy" / "setup.sh"
TOOLS = ("bash", "cat", "tr", "grep", "dirname", "env")
PROJECT_NUMBER = "123456789012"
FAKE_PASSWORD = "FIXTURE-NOT-A-SECRET-7f3a"
FAKE_CREDENTIALS = json.dumps({"userid": "fixture-user", "password": FAKE_PASSWORD})

STUB = f"""#!{sys.executable}
# A stand-in for gcloud. STUB_MODE: dry (must never be called), missing (nothing exists yet),
# existing (everything exists). Records argv (and stdin for --data-file=-) in STUB_LOG.
import json, os, sys
args = sys.argv[1:]
mode = os.environ["STUB_MODE"]
record = {{"argv": args}}
if "--data-file=-" in args:
    record["stdin"] = sys.stdin.read()
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
if mode == "dry":
    sys.exit(99)
words = [a for a in args if not a.startswith("-")]
if words[:2] == ["projects", "describe"]:
    print("{PROJECT_NUMBER}")
elif words[:2] == ["services", "list"]:
    if mode == "existing":
        print("\\n".join(os.environ.get("STUB_ENABLED_SERVICES", "").split()))
elif "describe" in words:
    if mode == "missing":
        print("ERROR: NOT_FOUND", file=sys.stderr)
        sys.exit(1)
    print("stub-existing")
elif words[-2:] == ["ttls", "list"] or words[3:5] == ["ttls", "list"]:
    if mode == "existing":
        group = next(a.split("=", 1)[1] for a in args if a.startswith("--collection-group="))
        print("projects/p/databases/(default)/collectionGroups/" + group + "/fields/expireAt")
elif "get-iam-policy" in words or "list" in words:
    if mode == "existing":
        print("stub-existing")
"""

PYTHON_STUB = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["STUB_PY_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict]
    python_calls: list[list[str]]

    @property
    def printed(self) -> list[list[str]]:
        """The commands printed by the script (`+ gcloud ...` lines), as argv lists."""
        return [
            shlex.split(line.strip()[2:])
            for line in self.stdout.splitlines()
            if line.strip().startswith("+ ")
        ]

    @property
    def printed_gcloud(self) -> list[list[str]]:
        return [cmd[1:] for cmd in self.printed if cmd[0] == "gcloud"]

    @property
    def changes(self) -> list[list[str]]:
        """Calls to the stub that change something (not describe/list/get-iam-policy)."""
        reads = {"describe", "list", "get-iam-policy"}
        return [
            c["argv"]
            for c in self.calls
            if not reads & {a for a in c["argv"] if not a.startswith("-")}
        ]


class Sandbox:
    """A temp PATH: the stub gcloud, a stub python for the publisher, links to a few tools."""

    def __init__(self, base: Path) -> None:
        self.bin = base / "bin"
        self.bin.mkdir()
        self.log = base / "gcloud.log"
        self.py_log = base / "python.log"
        (self.bin / "gcloud").write_text(STUB)
        (self.bin / "gcloud").chmod(0o755)
        self.python = base / "python-stub"
        self.python.write_text(PYTHON_STUB)
        self.python.chmod(0o755)
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is needed to run setup.sh"
            (self.bin / tool).symlink_to(found)

    def run(self, *args: str, mode: str, stdin: str = "", **env: str) -> Run:
        for path in (self.log, self.py_log):
            path.write_text("")
        result = subprocess.run(
            ["bash", str(SETUP), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={
                "PATH": str(self.bin),
                "HOME": str(self.bin.parent),
                "STUB_MODE": mode,
                "STUB_LOG": str(self.log),
                "STUB_PY_LOG": str(self.py_log),
                "SETUP_PYTHON": str(self.python),
                **env,
            },
        )
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        python_calls = [json.loads(line) for line in self.py_log.read_text().splitlines()]
        return Run(result.returncode, result.stdout, result.stderr, calls, python_calls)


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def test_the_sandbox_has_no_real_gcloud(sandbox):
    found = shutil.which("gcloud", path=str(sandbox.bin))
    assert found == str(sandbox.bin / "gcloud")
    assert "STUB_MODE" in Path(found).read_text()


DEMO = ("--project", "demo-proj", "--region", "europe-west6")


def dry_run(sandbox: Sandbox, *extra: str) -> Run:
    run = sandbox.run(*DEMO, "--dry-run", *extra, mode="dry")
    assert run.returncode == 0, run.stderr
    assert run.calls == [], "a dry run must not call gcloud"
    assert "DRY RUN" in run.stdout
    return run


def find(commands: list[list[str]], *prefix: str) -> list[list[str]]:
    return [c for c in commands if c[: len(prefix)] == list(prefix)]


def flag(command: list[str], name: str) -> str | None:
    for arg in command:
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def bindings(commands: list[list[str]]) -> list[tuple[str, str, str, str]]:
    """(resource kind, resource, role, member) of every add-iam-policy-binding."""
    out = []
    for c in commands:
        if "add-iam-policy-binding" in c:
            at = c.index("add-iam-policy-binding")
            out.append((" ".join(c[:at]), c[at + 1], flag(c, "--role"), flag(c, "--member")))
    return out


WORKER = "serviceAccount:ib-worker-paper@demo-proj.iam.gserviceaccount.com"
INVOKER = "serviceAccount:ib-invoker-paper@demo-proj.iam.gserviceaccount.com"
DEPLOYER = "serviceAccount:ib-deployer@demo-proj.iam.gserviceaccount.com"
PROJECT_ROLES = {
    (WORKER, "roles/datastore.user"),
    (DEPLOYER, "roles/run.admin"),
    (DEPLOYER, "roles/pubsub.editor"),
    (DEPLOYER, "roles/logging.logWriter"),
    (DEPLOYER, "roles/eventarc.admin"),
}


def test_dry_run_prints_every_resource(sandbox):
    run = dry_run(sandbox)
    cmds = run.printed_gcloud
    for topic in (stack.INTENTS_TOPIC, stack.RESULTS_TOPIC, stack.DEAD_LETTER_TOPIC):
        assert find(cmds, "pubsub", "topics", "create", topic), topic
    keep = find(cmds, "pubsub", "subscriptions", "create", stack.DEAD_LETTER_SUBSCRIPTION)
    assert keep and flag(keep[0], "--topic") == stack.DEAD_LETTER_TOPIC
    (push,) = find(cmds, "pubsub", "subscriptions", "create", "worker-push-paper")
    assert flag(push, "--topic") == stack.INTENTS_TOPIC
    assert flag(push, "--ack-deadline") == str(stack.ACK_DEADLINE_SECONDS)
    assert flag(push, "--dead-letter-topic") == stack.DEAD_LETTER_TOPIC
    assert int(flag(push, "--max-delivery-attempts")) >= 20
    assert flag(push, "--min-retry-delay") == "10s"
    assert flag(push, "--max-retry-delay") == "600s"
    assert flag(push, "--push-auth-service-account") == INVOKER.split(":")[1]
    assert flag(push, "--push-endpoint").startswith("https://ib-paper-")
    assert flag(push, "--expiration-period") == "never"

    assert find(cmds, "services", "enable")
    assert find(cmds, "artifacts", "repositories", "create", "ib-worker")
    for account in ("ib-worker-paper", "ib-invoker-paper", "ib-deployer"):
        assert find(cmds, "iam", "service-accounts", "create", account)
    assert find(cmds, "firestore", "databases", "create")
    ttls = find(cmds, "firestore", "fields", "ttls", "update", "expireAt")
    assert [flag(t, "--collection-group") for t in ttls] == ["intents", "booked"]
    assert all("--enable-ttl" in t for t in ttls)
    (secret,) = find(cmds, "secrets", "create", "ib-credentials-paper")
    assert flag(secret, "--data-file") == "-"
    python = [c for c in run.printed if c[0] != "gcloud"]
    assert python and python[0][1:] == [
        "-m",
        "publisher",
        "schedules",
        "apply",
        "--project=demo-proj",
        "--region=europe-west6",
    ]


def test_dry_run_grants_least_privilege_scoped_to_resources(sandbox):
    granted = bindings(dry_run(sandbox).printed_gcloud)
    assert ("run services", "ib-paper", "roles/run.invoker", INVOKER) in granted
    assert (
        "secrets",
        "ib-credentials-paper",
        "roles/secretmanager.secretAccessor",
        WORKER,
    ) in granted
    assert ("pubsub topics", "intent-results", "roles/pubsub.publisher", WORKER) in granted
    assert ("projects", "demo-proj", "roles/datastore.user", WORKER) in granted
    agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
    assert ("pubsub topics", stack.DEAD_LETTER_TOPIC, "roles/pubsub.publisher", agent) in granted
    assert (
        "pubsub subscriptions",
        "worker-push-paper",
        "roles/pubsub.subscriber",
        agent,
    ) in granted

    for kind, _resource, role, member in granted:
        assert role not in ("roles/editor", "roles/owner"), (kind, role, member)
        if kind == "projects":
            assert (member, role) in PROJECT_ROLES, f"{role} for {member} is project-wide"
    # The worker: its own secret, the results topic, Firestore; nothing else.
    worker_roles = {(kind, res, role) for kind, res, role, member in granted if member == WORKER}
    assert worker_roles == {
        ("secrets", "ib-credentials-paper", "roles/secretmanager.secretAccessor"),
        ("projects", "demo-proj", "roles/datastore.user"),
        ("pubsub topics", "intent-results", "roles/pubsub.publisher"),
    }
    invoker_roles = {(kind, res, role) for kind, res, role, member in granted if member == INVOKER}
    assert invoker_roles == {("run services", "ib-paper", "roles/run.invoker")}


def assert_no_secret_on_command_lines(commands: list[list[str]]) -> None:
    for command in commands:
        line = " ".join(command)
        assert FAKE_PASSWORD not in line
        assert "password" not in line.lower(), line
        for arg in command:
            assert not arg.startswith(("--pw=", "--user=", "--password", "--data=")), line
            if arg.startswith("--data-file="):
                assert arg == "--data-file=-", line


@pytest.mark.parametrize(
    "extra", [(), ("--mode", "live"), ("--teardown",), ("--delivery", "eventarc")]
)
def test_no_credential_on_any_printed_command_line(sandbox, extra):
    run = dry_run(sandbox, *extra)
    assert run.printed
    assert_no_secret_on_command_lines(run.printed)
    assert "roles/editor" not in run.stdout and "roles/owner" not in run.stdout


def test_dry_run_live_mode_names_only_live_resources(sandbox):
    run = dry_run(sandbox, "--mode", "live")
    cmds = run.printed_gcloud
    assert find(cmds, "pubsub", "subscriptions", "create", "worker-push-live")
    assert find(cmds, "secrets", "create", "ib-credentials-live")
    granted = bindings(cmds)
    live_invoker = "serviceAccount:ib-invoker-live@demo-proj.iam.gserviceaccount.com"
    assert ("run services", "ib-live", "roles/run.invoker", live_invoker) in granted
    assert not [c for c in cmds if any("paper" in arg for arg in c)]


def test_dry_run_eventarc_delivery_leaves_the_subscription_to_cloudbuild(sandbox):
    run = dry_run(sandbox, "--delivery", "eventarc")
    cmds = run.printed_gcloud
    assert not find(cmds, "pubsub", "subscriptions", "create", "worker-push-paper")
    (enable,) = find(cmds, "services", "enable")
    assert "eventarc.googleapis.com" in enable
    assert ("projects", "demo-proj", "roles/eventarc.admin", DEPLOYER) in bindings(cmds)
    # The trigger's subscription does not exist yet: the service agent may dead-letter from any.
    agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
    assert ("projects", "demo-proj", "roles/pubsub.subscriber", agent) in bindings(cmds)


def test_dry_run_teardown_removes_what_setup_created(sandbox):
    run = dry_run(sandbox, "--teardown")
    cmds = run.printed_gcloud
    assert find(cmds, "pubsub", "subscriptions", "delete", "worker-push-paper")
    assert find(cmds, "eventarc", "triggers", "delete", "ib-paper-intents")
    assert find(cmds, "run", "services", "delete", "ib-paper")
    assert find(cmds, "secrets", "delete", "ib-credentials-paper")
    agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
    revoked = find(cmds, "projects", "remove-iam-policy-binding", "demo-proj")
    assert any(flag(c, "--member") == agent for c in revoked)
    for account in ("ib-worker-paper", "ib-invoker-paper", "ib-deployer"):
        assert find(
            cmds,
            "iam",
            "service-accounts",
            "delete",
            f"{account}@demo-proj.iam.gserviceaccount.com",
        )
    for topic in (stack.INTENTS_TOPIC, stack.RESULTS_TOPIC, stack.DEAD_LETTER_TOPIC):
        assert find(cmds, "pubsub", "topics", "delete", topic)
    assert find(cmds, "artifacts", "repositories", "delete", "ib-worker")
    assert not find(cmds, "firestore", "databases", "delete"), "Firestore data is kept"
    assert "kept: the Firestore database" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--region", "europe-west6"), "--project is required"),
        (("--project", "demo-proj"), "--region is required"),
        ((*DEMO, "--mode", "demo"), "--mode must be paper or live"),
        ((*DEMO, "--delivery", "carrier-pigeon"), "--delivery must be push or eventarc"),
        ((*DEMO, "--bogus"), "unknown argument: --bogus"),
        (("--project", "Demo Proj", "--region", "europe-west6"), "is not a project id"),
        (("--project",), "--project needs a value"),
    ],
)
def test_refuses_bad_arguments_with_a_clear_message(sandbox, args, message):
    run = sandbox.run(*args, "--dry-run", mode="dry")
    assert run.returncode == 2
    assert message in run.stderr
    assert run.calls == []


def test_teardown_without_confirmation_refuses(sandbox):
    run = sandbox.run(*DEMO, "--teardown", mode="missing")
    assert run.returncode == 2
    assert "--yes" in run.stderr
    assert run.changes == []


def test_first_run_creates_everything_and_second_run_skips_it(sandbox):
    first = sandbox.run(*DEMO, mode="missing", stdin=FAKE_CREDENTIALS)
    assert first.returncode == 0, first.stdout + first.stderr
    made = first.changes
    for expected in (
        ("services", "enable"),
        ("artifacts", "repositories", "create", "ib-worker"),
        ("iam", "service-accounts", "create", "ib-worker-paper"),
        ("iam", "service-accounts", "create", "ib-invoker-paper"),
        ("iam", "service-accounts", "create", "ib-deployer"),
        ("pubsub", "topics", "create", "intents"),
        ("pubsub", "topics", "create", "intent-results"),
        ("pubsub", "topics", "create", "intents-dead-letter"),
        ("pubsub", "subscriptions", "create", "intents-dead-letter-keep"),
        ("pubsub", "subscriptions", "create", "worker-push-paper"),
        ("firestore", "databases", "create"),
        ("firestore", "fields", "ttls", "update", "expireAt"),
        ("secrets", "create", "ib-credentials-paper"),
        ("storage", "buckets", "create"),
        ("secrets", "add-iam-policy-binding", "ib-credentials-paper"),
        ("pubsub", "subscriptions", "add-iam-policy-binding", "worker-push-paper"),
    ):
        assert find(made, *expected), expected
    (push,) = find(made, "pubsub", "subscriptions", "create", "worker-push-paper")
    assert flag(push, "--push-endpoint") == (
        f"https://ib-paper-{PROJECT_NUMBER}.europe-west6.run.app/"
    )
    # The service is not deployed yet: its invoker binding is left to cloudbuild.yaml.
    assert "not deployed yet" in first.stdout
    assert first.python_calls == [
        ["-m", "publisher", "schedules", "apply", "--project=demo-proj", "--region=europe-west6"]
    ]
    # The secret went in on standard input, and only there.
    (secret,) = [
        c for c in first.calls if c["argv"][:3] == ["secrets", "create", "ib-credentials-paper"]
    ]
    assert secret["stdin"] == FAKE_CREDENTIALS
    assert "--data-file=-" in secret["argv"]
    assert_no_secret_on_command_lines([c["argv"] for c in first.calls])
    assert FAKE_PASSWORD not in first.stdout + first.stderr

    (enable,) = find(made, "services", "enable")
    apis = " ".join(a for a in enable[2:] if not a.startswith("-"))
    second = sandbox.run(*DEMO, mode="existing", stdin="", STUB_ENABLED_SERVICES=apis)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.changes == [], "a second run changes nothing"
    assert second.stdout.count("ok: ") >= 20
    assert not [c for c in second.calls if "stdin" in c]
    assert second.python_calls, "schedules apply is itself idempotent and always runs"


def test_a_missing_value_creates_the_secret_without_one_and_says_how_to_add_it(sandbox):
    run = sandbox.run(*DEMO, "--skip-schedules", mode="missing", stdin="")
    assert run.returncode == 0, run.stderr
    (secret,) = find(run.changes, "secrets", "create", "ib-credentials-paper")
    assert "--data-file=-" not in secret
    assert "gcloud secrets versions add ib-credentials-paper --data-file=-" in run.stdout
    assert run.python_calls == []


def test_malformed_credentials_are_refused_without_showing_them(sandbox):
    run = sandbox.run(*DEMO, "--skip-schedules", mode="missing", stdin=f"user {FAKE_PASSWORD}")
    assert run.returncode == 2
    assert "must be JSON" in run.stderr
    assert FAKE_PASSWORD not in run.stdout + run.stderr
    assert not find(run.changes, "secrets", "create")


def test_teardown_deletes_what_exists(sandbox):
    run = sandbox.run(*DEMO, "--teardown", "--yes", mode="existing")
    assert run.returncode == 0, run.stderr
    deleted = run.changes
    assert find(deleted, "pubsub", "subscriptions", "delete", "worker-push-paper")
    assert find(deleted, "run", "services", "delete", "ib-paper")
    assert find(deleted, "secrets", "delete", "ib-credentials-paper")
    # The live worker's service account "exists" too (the stub says everything does): shared
    # resources are kept for it.
    assert "kept: the live worker is set up" in run.stdout
    assert not find(deleted, "pubsub", "topics", "delete")


def test_setup_sh_is_executable_and_strict():
    text = SETUP.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(SETUP, os.X_OK)
