"""deploy/setup.sh against a stand-in `gcloud` with a memory (tests/deploy/fake_gcloud.py).

Dry runs, a first run, a second run, a run after the first deploy, drift, a failure half-way,
teardown and bad input. The script runs with a PATH that holds only the fake gcloud and links to
the few tools setup.sh uses, never the real gcloud.
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

from deploy.cloud import extras
from tests.deploy import fake_gcloud, fake_gcloud_server
from worker import names

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "deploy" / "setup.sh"
TOOLS = ("bash", "dirname", "env")
NUMBER = fake_gcloud.PROJECT_NUMBER
FAKE_PASSWORD = "FIXTURE-NOT-A-SECRET-7f3a"
FAKE_USER = "fixture-user-q9"
FAKE_CREDENTIALS = json.dumps({"userid": FAKE_USER, "password": FAKE_PASSWORD})
DEMO = ("--project", "demo-proj", "--region", "europe-west6")
READS = {"describe", "list", "get-iam-policy"}


PUBLISHER_STUB = f"""#!{sys.executable} -S
# Stands in for the Python that runs `python -m publisher schedules apply` (Cloud Scheduler
# cannot run here; the publisher's own tests cover its planning). Records its argv.
import json, os, sys
with open(os.environ["STUB_PUBLISHER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""
PUBLISHER_MARK = "/publisher-python"
SCHEDULES_APPLY = [
    "-m",
    "publisher",
    "schedules",
    "apply",
    "--project=demo-proj",
    "--region=europe-west6",
]
CONFIG_APPLY = ["-m", "publisher", "config", "apply", "--project=demo-proj", "--mode=paper"]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[dict]
    publisher: list[list[str]]

    @property
    def shown(self) -> list[list[str]]:
        """The gcloud commands the script showed (`+ gcloud ...` lines), without `gcloud`."""
        lines = [line.strip()[2:] for line in self.stdout.splitlines()]
        commands = [
            shlex.split(line.split("  < ")[0]) for line in lines if line.startswith("gcloud")
        ]
        return [_unscoped(c[1:]) for c in commands]

    @property
    def programs(self) -> list[list[str]]:
        """The repository's own programs the script showed (`+ /path/to/python -m ...`)."""
        lines = [line.strip()[2:] for line in self.stdout.splitlines()]
        return [shlex.split(line)[1:] for line in lines if PUBLISHER_MARK in line.split(" ")[0]]

    @property
    def changes(self) -> list[list[str]]:
        """Calls to the fake that change something (not describe, list or get-iam-policy)."""
        words = [[a for a in c["argv"] if not a.startswith("-")] for c in self.calls]
        return [
            _unscoped(c["argv"])
            for c, w in zip(self.calls, words, strict=True)
            if not READS & set(w)
        ]


def _unscoped(argv: list[str]) -> list[str]:
    return [a for a in argv if a not in ("--project=demo-proj", "--quiet")]


class Sandbox:
    """A temp PATH with the fake gcloud and links to a few tools; the fake's state and log."""

    def __init__(self, base: Path) -> None:
        self.bin = base / "bin"
        self.bin.mkdir()
        self.state = base / "state.json"
        self.log = base / "gcloud.log"
        self.publisher_log = base / "publisher.log"
        self.publisher = base / "publisher-python"
        self.publisher.write_text(PUBLISHER_STUB)
        self.publisher.chmod(0o755)
        # The fake answers from this process: a bash client per call, not a Python start-up.
        fake_gcloud_server.install(self.bin / "gcloud", bash=shutil.which("bash") or "/bin/bash")
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is needed to run setup.sh"
            (self.bin / tool).symlink_to(found)

    def run(self, *args: str, stdin: str = "", **env: str) -> Run:
        self.log.write_text("")
        self.publisher_log.write_text("")
        result = subprocess.run(
            ["bash", str(SETUP), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={
                "PATH": str(self.bin),
                "HOME": str(self.bin.parent),
                "SETUP_PYTHON": sys.executable,
                "PYTHONPATH": str(ROOT),
                "FAKE_GCLOUD_STATE": str(self.state),
                "FAKE_GCLOUD_LOG": str(self.log),
                "SETUP_SCHEDULES_PYTHON": str(self.publisher),
                "STUB_PUBLISHER_LOG": str(self.publisher_log),
                **env,
            },
        )
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        published = [json.loads(line) for line in self.publisher_log.read_text().splitlines()]
        return Run(result.returncode, result.stdout, result.stderr, calls, published)

    def cloud(self) -> dict:
        return json.loads(self.state.read_text()) if self.state.exists() else {}

    def seed(self, **parts: dict) -> None:
        state = self.cloud()
        for part, values in parts.items():
            state.setdefault(part, {}).update(values)
        self.state.write_text(json.dumps(state))

    def set_up(self, *args: str) -> None:
        """The state a successful first run with `args` leaves (run once per module)."""
        if args not in _SET_UP:
            first = self.run(*DEMO, *args, stdin=FAKE_CREDENTIALS)
            assert first.returncode == 0, first.stdout + first.stderr
            _SET_UP[args] = self.state.read_text()
        self.state.write_text(_SET_UP[args])

    def deploy(self, *services: str) -> None:
        """What cloudbuild.yaml does for the set-up: the services exist."""
        self.seed(resources={f"run services {s}": {} for s in services})


_SET_UP: dict[tuple[str, ...], str] = {}


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def dry_run(sandbox: Sandbox, *extra: str) -> Run:
    run = sandbox.run(*DEMO, "--dry-run", *extra, stdin=FAKE_CREDENTIALS, FAKE_GCLOUD_FORBID="1")
    assert run.returncode == 0, run.stderr
    assert run.calls == [], "a dry run must not call gcloud, not even to read"
    assert "DRY RUN" in run.stdout
    assert FAKE_PASSWORD not in run.stdout + run.stderr
    return run


def find(commands: list[list[str]], *prefix: str) -> list[list[str]]:
    return [c for c in commands if c[: len(prefix)] == list(prefix)]


def bindings(commands: list[list[str]], verb: str = "add-iam-policy-binding") -> set[tuple]:
    """(resource kind, resource, role, member) of every add (or remove) binding command."""
    out = set()
    for c in commands:
        if verb in c:
            at = c.index(verb)
            kind = " ".join(w for w in c[:at] if w != "beta")
            resource = c[at + 1] if len(c) > at + 1 and not c[at + 1].startswith("-") else ""
            flags = dict(a[2:].split("=", 1) for a in c if a.startswith("--") and "=" in a)
            out.add((kind, resource or flags.get("service", ""), flags["role"], flags["member"]))
    return out


def test_the_sandbox_has_no_real_gcloud(sandbox):
    found = shutil.which("gcloud", path=str(sandbox.bin))
    assert found == str(sandbox.bin / "gcloud")
    assert "FAKE_GCLOUD_STATE" in Path(found).read_text()


WORKER = "serviceAccount:ib-worker-paper@demo-proj.iam.gserviceaccount.com"
INVOKER = "serviceAccount:ib-invoker-paper@demo-proj.iam.gserviceaccount.com"
DEPLOYER = "serviceAccount:ib-deployer@demo-proj.iam.gserviceaccount.com"
DASHBOARD = "serviceAccount:ib-dashboard@demo-proj.iam.gserviceaccount.com"
URL = f"https://ib-paper-{NUMBER}.europe-west6.run.app"


def push_command(url: str, name: str, topic: str, path: str, ack: int, dead: bool) -> list[str]:
    return [
        "pubsub",
        "subscriptions",
        "create",
        name,
        f"--topic={topic}",
        "--expiration-period=never",
        f"--push-endpoint={url}{path}",
        "--push-auth-service-account=ib-invoker-paper@demo-proj.iam.gserviceaccount.com",
        f"--push-auth-token-audience={url}",
        f"--ack-deadline={ack}",
        "--min-retry-delay=10s",
        "--max-retry-delay=600s",
        *(
            [
                "--dead-letter-topic=projects/demo-proj/topics/intents-dead-letter",
                "--max-delivery-attempts=50",
            ]
            if dead
            else []
        ),
    ]


def test_dry_run_shows_both_push_subscriptions_exactly(sandbox):
    run = dry_run(sandbox)
    assert run.programs == [CONFIG_APPLY, SCHEDULES_APPLY] and run.publisher == []
    cmds = run.shown
    url = "https://ib-paper-PROJECT_NUMBER.europe-west6.run.app"
    (push,) = find(cmds, "pubsub", "subscriptions", "create", "worker-push-paper")
    assert push == push_command(url, "worker-push-paper", "intents", "/", 600, dead=True)
    (dead,) = find(cmds, "pubsub", "subscriptions", "create", "worker-dead-letter-paper")
    assert dead == push_command(
        url, "worker-dead-letter-paper", "intents-dead-letter", "/dead-letter", 60, dead=False
    )
    (keep,) = find(cmds, "pubsub", "subscriptions", "create", names.DEAD_LETTER_KEEP_SUBSCRIPTION)
    assert "--topic=intents-dead-letter" in keep and "--message-retention-duration=7d" in keep
    for topic in (names.INTENTS_TOPIC, names.RESULTS_TOPIC, names.DEAD_LETTER_TOPIC):
        assert find(cmds, "pubsub", "topics", "create", topic)
    for account in ("ib-worker-paper", "ib-invoker-paper", "ib-deployer", "ib-dashboard"):
        assert find(cmds, "iam", "service-accounts", "create", account)
    ttls = find(cmds, "firestore", "fields", "ttls", "update", "expireAt")
    assert [c[5] for c in ttls] == ["--collection-group=intents", "--collection-group=booked"]
    assert find(cmds, "secrets", "versions", "add", "ib-credentials-paper", "--data-file=-")
    assert "--max-delivery-attempts=20" in dry_run(sandbox, "--max-delivery-attempts", "20").stdout


def test_dry_run_grants_least_privilege_each_on_its_resource(sandbox):
    run = dry_run(sandbox)
    granted = bindings(run.shown)
    agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
    by = lambda who: {(k, r, role) for k, r, role, m in granted if m == who}  # noqa: E731
    assert by(WORKER) == {
        ("secrets", "ib-credentials-paper", "roles/secretmanager.secretAccessor"),
        ("projects", "demo-proj", "roles/datastore.user"),
        ("pubsub topics", "intent-results", "roles/pubsub.publisher"),
    }
    assert by(INVOKER) == {("run services", "ib-paper", "roles/run.invoker")}
    assert by(agent) == {
        ("pubsub topics", "intents-dead-letter", "roles/pubsub.publisher"),
        ("pubsub subscriptions", "worker-push-paper", "roles/pubsub.subscriber"),
        ("iam service-accounts", INVOKER.split(":")[1], "roles/iam.serviceAccountTokenCreator"),
    }
    assert by(DEPLOYER) == {
        ("projects", "demo-proj", "roles/run.developer"),
        ("projects", "demo-proj", "roles/logging.logWriter"),
        ("artifacts repositories", "ib-worker", "roles/artifactregistry.repoAdmin"),
        ("storage buckets", "gs://demo-proj_cloudbuild", "roles/storage.objectViewer"),
        ("iam service-accounts", WORKER.split(":")[1], "roles/iam.serviceAccountUser"),
        ("iam service-accounts", DASHBOARD.split(":")[1], "roles/iam.serviceAccountUser"),
    }
    assert by(DASHBOARD) == {
        ("projects", "demo-proj", "roles/datastore.viewer"),
        ("pubsub topics", "intents", "roles/pubsub.publisher"),
    }
    assert not [g for g in granted if g[2] in ("roles/editor", "roles/owner")]
    assert not [g for g in granted if g[3] == DEPLOYER and "pubsub" in g[2]]
    # The broader grants of an older set-up are taken away wherever they are found.
    removed = bindings(run.shown, "remove-iam-policy-binding")
    for role in ("roles/run.admin", "roles/pubsub.editor", "roles/eventarc.admin"):
        assert ("projects", "demo-proj", role, DEPLOYER) in removed


def test_dashboard_users_get_through_identity_aware_proxy_only(sandbox):
    run = dry_run(
        sandbox,
        "--dashboard-user",
        "trader@example.com",
        "--dashboard-user",
        "group:desk@example.com",
    )
    cmds = run.shown
    assert find(
        cmds, "beta", "run", "services", "update", "ib-dashboard", "--region=europe-west6", "--iap"
    )
    granted = bindings(cmds)
    iap_agent = "serviceAccount:service-PROJECT_NUMBER@gcp-sa-iap.iam.gserviceaccount.com"
    assert ("run services", "ib-dashboard", "roles/run.invoker", iap_agent) in granted
    for member in ("user:trader@example.com", "group:desk@example.com"):
        assert ("iap web", "ib-dashboard", "roles/iap.httpsResourceAccessor", member) in granted
    assert not [g for g in granted if g[3] in ("allUsers", "allAuthenticatedUsers")]
    assert "iap.googleapis.com" in find(cmds, "services", "enable")[0]
    assert not find(dry_run(sandbox).shown, "beta", "run", "services", "update")


def assert_no_secret_on_command_lines(commands: list[list[str]]) -> None:
    for command in commands:
        line = " ".join(command)
        assert FAKE_PASSWORD not in line and FAKE_USER not in line
        assert "password" not in line.lower(), line
        for arg in command:
            if arg.startswith("--data-file"):
                assert arg == "--data-file=-", line


@pytest.mark.parametrize(
    "extra", [(), ("--mode", "live"), ("--teardown",), ("--delivery", "eventarc")]
)
def test_no_credential_on_any_shown_command_line(sandbox, extra):
    run = dry_run(sandbox, *extra)
    assert run.shown
    assert_no_secret_on_command_lines(run.shown)


def test_dry_run_live_mode_names_only_live_resources(sandbox):
    cmds = dry_run(sandbox, "--mode", "live", "--skip-schedules").shown
    assert find(cmds, "pubsub", "subscriptions", "create", "worker-push-live")
    assert find(cmds, "pubsub", "subscriptions", "create", "worker-dead-letter-live")
    assert find(cmds, "secrets", "create", "ib-credentials-live")
    assert not [c for c in cmds if any("paper" in arg for arg in c)]


def test_eventarc_delivery_uses_a_trigger_and_keeps_the_dead_letter_push(sandbox):
    cmds = dry_run(sandbox, "--delivery", "eventarc").shown
    assert not find(cmds, "pubsub", "subscriptions", "create", "worker-push-paper")
    (trigger,) = find(cmds, "eventarc", "triggers", "create", "ib-paper-intents")
    assert trigger[4:] == [
        "--location=europe-west6",
        "--destination-run-service=ib-paper",
        "--destination-run-region=europe-west6",
        "--destination-run-path=/",
        "--event-filters=type=google.cloud.pubsub.topic.v1.messagePublished",
        "--transport-topic=projects/demo-proj/topics/intents",
        "--service-account=ib-invoker-paper@demo-proj.iam.gserviceaccount.com",
    ]
    (policy,) = find(cmds, "pubsub", "subscriptions", "update", "TRIGGER_SUBSCRIPTION")
    assert "--ack-deadline=600" in policy and "--max-delivery-attempts=50" in policy
    assert find(cmds, "pubsub", "subscriptions", "create", "worker-dead-letter-paper")
    assert "eventarc.googleapis.com" in find(cmds, "services", "enable")[0]
    granted = bindings(cmds)
    assert not [g for g in granted if g[0] == "projects" and g[2] == "roles/pubsub.subscriber"]
    assert not [g for g in granted if g[3] == DEPLOYER and "eventarc" in g[2]]


def test_dry_run_teardown_removes_what_setup_created_and_keeps_the_data(sandbox):
    run = dry_run(sandbox, "--teardown", "--delivery", "eventarc")
    cmds = run.shown
    for prefix in (
        ("pubsub", "subscriptions", "delete", "worker-dead-letter-paper"),
        ("eventarc", "triggers", "delete", "ib-paper-intents"),
        ("run", "services", "delete", "ib-paper"),
        ("run", "services", "delete", "ib-dashboard"),
        ("secrets", "delete", "ib-credentials-paper"),
        ("artifacts", "repositories", "delete", "ib-worker"),
        ("scheduler", "jobs", "delete"),
    ):
        assert find(cmds, *prefix), prefix
    for account in ("ib-worker-paper", "ib-invoker-paper", "ib-deployer", "ib-dashboard"):
        assert find(
            cmds,
            "iam",
            "service-accounts",
            "delete",
            f"{account}@demo-proj.iam.gserviceaccount.com",
        )
    for topic in (names.INTENTS_TOPIC, names.RESULTS_TOPIC, names.DEAD_LETTER_TOPIC):
        assert find(cmds, "pubsub", "topics", "delete", topic)
    assert not find(cmds, "firestore", "databases", "delete"), "Firestore data is kept"
    assert "kept: the Firestore database" in run.stdout
    assert "only when the live worker is not set up" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--region", "europe-west6"), "--project is required"),
        (("--project", "demo-proj"), "--region is required"),
        ((*DEMO, "--mode", "demo"), "--mode must be paper or live"),
        ((*DEMO, "--delivery", "carrier-pigeon"), "--delivery must be push or eventarc"),
        ((*DEMO, "--bogus"), "unrecognized arguments: --bogus"),
        (("--project", "Demo Proj", "--region", "europe-west6"), "is not a project id"),
        (("--project", "demo-proj", "--region", "eu; rm -rf /"), "is not a region"),
        ((*DEMO, "--max-delivery-attempts", "7"), "--max-delivery-attempts must be 20 to 100"),
        ((*DEMO, "--dashboard-user", "not an email"), "is not an email"),
        ((*DEMO, "--dashboard-user", "allUsers"), "is not an email"),
        ((*DEMO, "--dashboard-user", "a@b.com", "--no-dashboard"), "contradict"),
        (("--project",), "expected one argument"),
    ],
)
def test_refuses_bad_arguments_with_one_clear_line(sandbox, args, message):
    run = sandbox.run(*args, "--dry-run", FAKE_GCLOUD_FORBID="1")
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert run.calls == []


def test_teardown_without_confirmation_refuses(sandbox):
    run = sandbox.run(*DEMO, "--teardown")
    assert run.returncode == 2
    assert "--yes" in run.stderr
    assert run.changes == []


def test_first_run_creates_everything_second_run_nothing(sandbox):
    first = sandbox.run(*DEMO, stdin=FAKE_CREDENTIALS)
    assert first.returncode == 0, first.stdout + first.stderr
    cloud = sandbox.cloud()
    made = set(cloud["resources"])
    for key in (
        "artifacts repositories ib-worker",
        "iam service-accounts ib-worker-paper@demo-proj.iam.gserviceaccount.com",
        "iam service-accounts ib-dashboard@demo-proj.iam.gserviceaccount.com",
        "pubsub topics intents",
        "pubsub subscriptions intents-dead-letter-keep",
        "pubsub subscriptions worker-push-paper",
        "pubsub subscriptions worker-dead-letter-paper",
        "firestore databases (default)",
        "secrets ib-credentials-paper",
        "storage buckets gs://demo-proj_cloudbuild",
    ):
        assert key in made, key
    assert cloud["ttls"] == ["intents", "booked"]
    assert len(cloud["indexes"]) == len(extras.load_indexes())
    assert cloud["versions"] == {"ib-credentials-paper": 1}
    # The secret went in on standard input, built by json.dumps, and only there.
    (secret,) = [c for c in first.calls if c["argv"][:3] == ["secrets", "versions", "add"]]
    assert secret["stdin"] == FAKE_CREDENTIALS
    assert_no_secret_on_command_lines([c["argv"] for c in first.calls])
    assert FAKE_PASSWORD not in first.stdout + first.stderr
    assert first.publisher == [CONFIG_APPLY, SCHEDULES_APPLY]
    # The services are not deployed yet: what needs them waits.
    assert "wait    roles/run.invoker" in first.stdout
    assert "run this again" in first.stdout

    second = sandbox.run(*DEMO, stdin="")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.changes == [], "a second run changes nothing"
    assert "0 to create, 0 to update, 0 to delete" in second.stdout
    assert not [c for c in second.calls if "stdin" in c]
    # Both plan for themselves and change only what differs, at every run.
    assert second.publisher == [CONFIG_APPLY, SCHEDULES_APPLY]


def test_after_the_first_deploy_it_grants_what_waited(sandbox):
    sandbox.set_up("--dashboard-user", "t@example.com")
    sandbox.deploy("ib-paper", "ib-dashboard")
    run = sandbox.run(*DEMO, "--dashboard-user", "t@example.com")
    assert run.returncode == 0, run.stderr
    assert bindings(run.changes) == {
        ("run services", "ib-paper", "roles/run.invoker", INVOKER),
        (
            "run services",
            "ib-dashboard",
            "roles/run.invoker",
            f"serviceAccount:service-{NUMBER}@gcp-sa-iap.iam.gserviceaccount.com",
        ),
        ("iap web", "ib-dashboard", "roles/iap.httpsResourceAccessor", "user:t@example.com"),
    }
    assert find(
        run.changes, "beta", "run", "services", "update", "ib-dashboard", "--region=europe-west6"
    )
    assert sandbox.run(*DEMO, "--dashboard-user", "t@example.com").changes == []


def test_drift_is_updated_in_place(sandbox):
    sandbox.set_up("--skip-schedules")
    state = sandbox.cloud()
    push = state["resources"]["pubsub subscriptions worker-push-paper"]
    push["ack-deadline"], push["push-endpoint"] = "10", "https://elsewhere.example/"
    sandbox.state.write_text(json.dumps(state))
    run = sandbox.run(*DEMO, "--skip-schedules")
    assert run.returncode == 0, run.stderr
    assert "update  push subscription worker-push-paper" in run.stdout
    (update,) = run.changes
    assert update[:4] == ["pubsub", "subscriptions", "update", "worker-push-paper"]
    assert f"--push-endpoint={URL}/" in update and "--ack-deadline=600" in update
    assert sandbox.run(*DEMO, "--skip-schedules").changes == []


def test_an_older_broader_grant_is_removed(sandbox):
    sandbox.set_up("--skip-schedules")
    sandbox.seed(
        policies={
            "projects demo-proj": {
                **sandbox.cloud()["policies"]["projects demo-proj"],
                "roles/pubsub.editor": [DEPLOYER],
            }
        }
    )
    run = sandbox.run(*DEMO, "--skip-schedules")
    assert run.changes == [
        [
            "projects",
            "remove-iam-policy-binding",
            "demo-proj",
            f"--member={DEPLOYER}",
            "--role=roles/pubsub.editor",
            "--condition=None",
            "--format=none",
        ]
    ]


def test_a_failure_half_way_stops_clearly_and_a_rerun_finishes(sandbox):
    run = sandbox.run(
        *DEMO, stdin=FAKE_CREDENTIALS, FAKE_GCLOUD_FAIL="pubsub topics create intent-results"
    )
    assert run.returncode == 1
    assert "gcloud pubsub topics create intent-results" in run.stderr
    assert "PERMISSION_DENIED" in run.stderr and "Traceback" not in run.stderr
    assert "pubsub topics intents" in sandbox.cloud()["resources"]
    rerun = sandbox.run(*DEMO, stdin=FAKE_CREDENTIALS)
    assert rerun.returncode == 0, rerun.stderr
    assert find(rerun.changes, "pubsub", "topics", "create", "intent-results")
    assert not find(rerun.changes, "pubsub", "topics", "create", "intents")
    assert sandbox.cloud()["versions"] == {"ib-credentials-paper": 1}


def test_without_a_value_the_secret_is_created_empty_and_the_way_to_add_it_shown(sandbox):
    run = sandbox.run(*DEMO, "--skip-schedules", "--skip-config", stdin="")
    assert run.returncode == 0, run.stderr
    assert find(run.changes, "secrets", "create", "ib-credentials-paper")
    assert not find(run.changes, "secrets", "versions", "add")
    assert "gcloud secrets versions add ib-credentials-paper --data-file=-" in run.stdout
    assert run.publisher == []


@pytest.mark.parametrize(
    "stdin",
    [
        f"user {FAKE_PASSWORD}",
        json.dumps(
            {"userid": FAKE_USER, "password": FAKE_PASSWORD + "\nTrustedTwsApiClientIPs=0.0.0.0/0"}
        ),
    ],
)
def test_bad_credentials_are_refused_before_any_change_without_showing_them(sandbox, stdin):
    run = sandbox.run(*DEMO, "--skip-schedules", stdin=stdin)
    assert run.returncode == 2
    assert "credentials" in run.stderr and "Traceback" not in run.stderr
    assert FAKE_PASSWORD not in run.stdout + run.stderr
    assert FAKE_USER not in run.stdout + run.stderr
    assert run.changes == []


def test_teardown_keeps_shared_resources_while_the_other_mode_is_set_up(sandbox):
    sandbox.set_up("--skip-schedules")
    assert (
        sandbox.run(*DEMO, "--mode", "live", "--skip-schedules", stdin=FAKE_CREDENTIALS).returncode
        == 0
    )
    run = sandbox.run(*DEMO, "--teardown", "--yes")
    assert run.returncode == 0, run.stderr
    assert "kept: the live worker is set up" in run.stdout
    left = set(sandbox.cloud()["resources"])
    assert "pubsub subscriptions worker-push-paper" not in left
    assert "secrets ib-credentials-paper" not in left
    assert {"pubsub topics intents", "pubsub subscriptions worker-push-live"} <= left
    assert not find(run.changes, "pubsub", "topics", "delete")

    sandbox.seed(resources={"scheduler jobs morning-summary": {"topic": "intents"}})
    last = sandbox.run(*DEMO, "--mode", "live", "--teardown", "--yes")
    assert find(last.changes, "scheduler", "jobs", "delete", "morning-summary")
    assert last.returncode == 0, last.stderr
    cloud = sandbox.cloud()
    assert set(cloud["resources"]) == {
        "firestore databases (default)",
        "storage buckets gs://demo-proj_cloudbuild",
    }
    project = cloud["policies"]["projects demo-proj"]
    assert not [m for members in project.values() for m in members], "no grant left behind"


def test_setup_sh_is_a_thin_strict_wrapper():
    text = SETUP.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "-m deploy.cloud" in text
    assert os.access(SETUP, os.X_OK)
    assert len(text.splitlines()) < 30
