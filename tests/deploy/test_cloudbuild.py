"""cloudbuild.yaml, step by step: each step's bash runs here against stand-ins for gcloud and docker
(they record what they were asked and answer from a table), with Cloud Build's own substitution
rules applied to the step and its environment. No step reaches Google Cloud or a registry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.cloud import worker_subscriptions
from deploy.cloud.options import Options
from deploy.images.cloudbuild import substitute
from tests.conftest import FAST_LANE
from worker import names
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CLOUDBUILD = ROOT / "cloudbuild.yaml"
BUILD = yaml.safe_load(CLOUDBUILD.read_text())
BUILTINS = {"PROJECT_ID": "demo-proj", "PROJECT_NUMBER": "123456789012", "SHORT_SHA": "abc1234"}
SHELLCHECK = ROOT / ".venv" / "bin" / "shellcheck"
PINNED_SHA = "ab" * 32

STUB = f"""#!{sys.executable} -S
# Stands in for gcloud or docker: records argv, answers from STUB_ANSWERS (prefix -> output).
import json, os, sys
tool = os.path.basename(sys.argv[0])
argv = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({{"tool": tool, "argv": argv}}) + "\\n")
line = " ".join([tool, *argv])
for prefix, out, code in json.loads(os.environ.get("STUB_ANSWERS", "[]")):
    if line.startswith(prefix):
        sys.stdout.write(out)
        sys.exit(code)
"""


def step(step_id: str) -> dict:
    (found,) = [s for s in BUILD["steps"] if s["id"] == step_id]
    return found


def raw_script(step_id: str) -> str:
    args = step(step_id)["args"]
    return args[args.index("-c") + 1]


class Workspace:
    """/workspace of a build: the repository's base/ and worker/, stand-ins on PATH."""

    def __init__(self, tmp: Path, pinned: bool = True, dashboard: bool = True) -> None:
        self.dir = tmp / "workspace"
        self.dir.mkdir()
        (self.dir / "worker").symlink_to(ROOT / "worker")
        (self.dir / "deploy").symlink_to(ROOT / "deploy")
        shutil.copytree(ROOT / "base", self.dir / "base")
        # Pinned or not whatever the repository's Dockerfile holds (a user's pinned checkout runs
        # these tests inside Cloud Build too).
        version, digest = ("10.37.1l", PINNED_SHA) if pinned else ("", "")
        dockerfile = self.dir / "base" / "Dockerfile"
        text = re.sub(
            r"(?m)^ARG IB_GATEWAY_VERSION=.*$",
            f"ARG IB_GATEWAY_VERSION={version}",
            dockerfile.read_text(),
        )
        text = re.sub(r"(?m)^ARG IB_GATEWAY_SHA256=.*$", f"ARG IB_GATEWAY_SHA256={digest}", text)
        dockerfile.write_text(text)
        if dashboard:
            (self.dir / "dashboard").mkdir()
            (self.dir / "dashboard" / "Dockerfile").write_text("FROM scratch\n")
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for tool in ("gcloud", "docker"):
            (self.bin / tool).write_text(STUB)
            (self.bin / tool).chmod(0o755)
        (self.bin / "python").symlink_to(sys.executable)
        self.log = tmp / "stub.log"

    def run(
        self, step_id: str, answers=(), **substitutions: str
    ) -> tuple[subprocess.CompletedProcess, list]:
        values = {**BUILD["substitutions"], **BUILTINS, **substitutions}
        env = dict(
            entry.split("=", 1)
            for entry in (substitute(e, values) for e in BUILD["options"]["env"])
        )
        for entry in step(step_id).get("env", []):
            key, _, value = substitute(entry, values).partition("=")
            env[key] = value
        self.log.write_text("")
        done = subprocess.run(
            ["bash", "-c", substitute(raw_script(step_id), values)],
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **env,
                "PATH": f"{self.bin}:{os.environ['PATH']}",
                "HOME": str(self.dir.parent),
                "STUB_LOG": str(self.log),
                "STUB_ANSWERS": json.dumps(list(answers)),
            },
        )
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        return done, calls

    def names_env(self, **substitutions: str) -> None:
        done, _ = self.run("check", **substitutions)
        assert done.returncode == 0, done.stderr

    def write(self, name: str, text: str) -> None:
        (self.dir / ".cloudbuild").mkdir(exist_ok=True)
        (self.dir / ".cloudbuild" / name).write_text(text + "\n")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_steps_in_order():
    assert [s["id"] for s in BUILD["steps"]] == [
        "check",
        "base-check",
        "base-build",
        "worker-build",
        "dashboard-build",
        "lint-and-test",
        "push",
        "deploy",
        "dashboard-deploy",
        "prune",
    ]


def test_no_script_pastes_a_substitution_into_bash():
    """Values reach bash only as environment variables: a script holds no `$NAME` of Cloud
    Build's at all, only `$$` (bash's own $)."""
    for s in BUILD["steps"]:
        assert s.get("entrypoint") == "bash", s["id"]
        assert "$" not in raw_script(s["id"]).replace("$$", ""), s["id"]
    registry = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}"
    assert step("lint-and-test")["name"] == f"{registry}/{names.WORKER_IMAGE}:${{SHORT_SHA}}"
    assert BUILD["substitutions"]["_REPOSITORY"] == names.REPOSITORY


def test_every_substitution_is_passed_as_environment_and_checked_first():
    env = {e.split("=", 1)[1]: e.split("=", 1)[0] for e in BUILD["options"]["env"]}
    check = raw_script("check")
    for name in [*BUILD["substitutions"], "PROJECT_ID", "SHORT_SHA"]:
        variable = env[f"${{{name}}}"]
        assert re.search(rf"^\s*check {variable} ['\"]", check, re.M), f"{name} is not checked"
    assert check.index("check ") < check.index("worker.names")


def test_substitutions_must_match_exactly():
    """No ALLOW_LOOSE: a misspelt --substitutions name fails the build instead of being ignored,
    so every substitution declared is used and every one used is declared."""
    assert "substitutionOption" not in BUILD["options"]
    text = CLOUDBUILD.read_text()
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", text))
    assert used == set(BUILD["substitutions"])


def test_the_first_step_runs_on_the_pinned_python_image():
    dockerfile = (ROOT / "base" / "Dockerfile").read_text()
    pinned = re.search(r"(?m)^ARG PYTHON_IMAGE=(\S+)$", dockerfile).group(1)
    assert step("check")["name"] == pinned


def test_defaults_pass_and_the_names_come_from_worker_names(ws):
    done, calls = ws.run("check")
    assert done.returncode == 0, done.stderr
    assert calls == []
    written = (ws.dir / ".cloudbuild" / "names.env").read_text().splitlines()
    expected = names.shell("paper", "demo-proj", "europe-west6")
    assert dict(line.split("=", 1) for line in written) == expected


@pytest.mark.parametrize(
    ("substitution", "value"),
    [
        ("_REGION", "europe-west6; touch pwned"),
        ("_REGION", "$(touch pwned)"),
        ("_TRADING_MODE", "Paper"),
        ("_GATEWAY_MODE", "tws"),
        ("_WORKER_INGRESS", "public"),
        ("_WORKER_ENV", "A=1,b=2"),
        ("_WORKER_ENV", "A=`touch pwned`"),
        ("_WORKER_ENV", "TRADING_MODE=live"),
        ("_WORKER_ENV", "IB_CREDENTIALS_JSON=x"),
        ("_REBUILD_BASE", "yes"),
        ("_KEEP", "0"),
        ("_KEEP", "a[$(touch pwned)]"),
        ("_DEPLOY_DASHBOARD", "1"),
        ("_DASHBOARD_MODES", "paper,demo"),
        ("_DASHBOARD_LIVE_CONFIRM", "LIVE NOW"),
        ("_REPOSITORY", "../other"),
        ("SHORT_SHA", ""),
        ("PROJECT_ID", "demo-proj\nexit 0"),
    ],
)
def test_a_bad_substitution_stops_the_build_before_anything_runs(ws, substitution, value):
    done, calls = ws.run("check", **{substitution: value})
    assert done.returncode == 1
    assert substitution in done.stderr
    assert not (ws.dir / ".cloudbuild" / "names.env").exists()
    assert not (ws.dir / "pwned").exists() and calls == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keep=st.text(max_size=4), modes=st.text(alphabet="aeilprv,", max_size=11))
def test_only_what_matches_the_documented_pattern_passes(ws, keep, modes):
    if "\x00" in keep:
        return
    done, _ = ws.run("check", _KEEP=keep, _DASHBOARD_MODES=modes)
    wanted = re.fullmatch(r"[1-9][0-9]?", keep) and modes in (
        "paper",
        "live",
        "paper,live",
        "live,paper",
    )
    assert (done.returncode == 0) == bool(wanted), (keep, modes, done.stderr)


def test_an_unpinned_gateway_stops_the_build_saying_how_to_pin(tmp_path):
    unpinned = Workspace(tmp_path, pinned=False)
    done, _ = unpinned.run("check")
    assert done.returncode == 1
    assert "deploy/update-gateway.sh VERSION" in done.stderr


def test_base_check_tags_by_pin_and_content_and_builds_only_when_needed(ws):
    ws.names_env()
    done, calls = ws.run("base-check", [("gcloud artifacts docker images describe", "", 1)])
    assert done.returncode == 0, done.stderr
    tag = (ws.dir / ".cloudbuild" / "base-tag").read_text().strip()
    assert re.fullmatch(r"10\.37\.1l-[0-9a-f]{12}", tag)
    assert (ws.dir / ".cloudbuild" / "base-build").read_text().strip() == "build"
    image = names.shell("paper", "demo-proj", "europe-west6")["BASE_IMAGE"]
    assert calls[0]["argv"][:5] == ["artifacts", "docker", "images", "describe", f"{image}:{tag}"]
    ws.run("base-check", [("gcloud artifacts docker images describe", "", 0)])
    assert (ws.dir / ".cloudbuild" / "base-build").read_text().strip() == "skip"
    ws.run("base-check", [("gcloud", "", 0)], _REBUILD_BASE="true")
    assert (ws.dir / ".cloudbuild" / "base-build").read_text().strip() == "build"
    (ws.dir / "base" / "jts.ini").write_text("changed\n")
    ws.run("base-check", [("gcloud", "", 0)])
    assert (ws.dir / ".cloudbuild" / "base-tag").read_text().strip() != tag


def test_the_worker_is_built_on_the_exact_base_digest(ws):
    ws.names_env()
    ws.write("base-tag", "10.37.1l-0123456789ab")
    ws.write("base-build", "build")
    base = names.shell("paper", "demo-proj", "europe-west6")["BASE_IMAGE"]
    ref = f"{base}@sha256:{'c' * 64}"
    done, calls = ws.run("base-build", [("docker inspect", ref + "\n", 0)])
    assert done.returncode == 0, done.stderr
    assert [c["argv"][:2] for c in calls] == [
        ["build", "--pull"],
        ["push", f"{base}:10.37.1l-0123456789ab"],
        ["inspect", "--format"],
    ]
    assert calls[0]["argv"][-1] == "base" and "--build-arg" not in calls[0]["argv"]
    done, calls = ws.run("worker-build")
    assert done.returncode == 0, done.stderr
    (build,) = calls
    assert f"BASE_IMAGE={ref}" in build["argv"]
    worker = names.shell("paper", "demo-proj", "europe-west6")["WORKER_IMAGE"]
    assert f"{worker}:abc1234" in build["argv"] and build["argv"][-1] == "."
    assert build["argv"][build["argv"].index("--file") :][:2] == ["--file", "worker/Dockerfile"]


def test_the_dashboard_image_comes_from_dashboard_dockerfile(ws, tmp_path):
    ws.names_env()
    done, calls = ws.run("dashboard-build")
    assert done.returncode == 0, done.stderr
    (build,) = calls
    image = names.shell("paper", "demo-proj", "europe-west6")["DASHBOARD_IMAGE"]
    assert build["argv"][:1] == ["build"] and f"{image}:abc1234" in build["argv"]
    assert "dashboard/Dockerfile" in build["argv"] and build["argv"][-1] == "."
    assert ws.run("dashboard-build", _DEPLOY_DASHBOARD="false")[1] == []
    (ws.dir / "dashboard" / "Dockerfile").unlink()
    done, calls = ws.run("dashboard-build")
    assert done.returncode == 1 and "dashboard/Dockerfile not found" in done.stderr


def test_lint_and_tests_install_hash_pinned_tools():
    script = raw_script("lint-and-test")
    assert "--require-hashes" in script and "deploy/build-requirements.txt" in script
    assert "ruff check" in script and "ruff format --check" in script
    assert "python -m pytest" in script and f'-m "{FAST_LANE}"' in script  # as make test-fast


def test_the_fast_lane_is_one_expression_everywhere():
    makefile = (ROOT / "Makefile").read_text()
    assert f"FAST_LANE := {FAST_LANE}\n" in makefile
    assert 'pytest -q -n 2 -m "$(FAST_LANE)"' in makefile  # make test-fast, on two workers


def test_push_pushes_both_images(ws):
    ws.names_env()
    done, calls = ws.run("push")
    assert done.returncode == 0, done.stderr
    shown = names.shell("paper", "demo-proj", "europe-west6")
    assert [c["argv"] for c in calls] == [
        ["push", "--all-tags", shown["WORKER_IMAGE"]],
        ["push", "--all-tags", shown["DASHBOARD_IMAGE"]],
    ]


def test_deploy_sets_the_whole_environment_and_the_secret(ws):
    ws.names_env(_TRADING_MODE="live")
    done, calls = ws.run(
        "deploy", _TRADING_MODE="live", _WORKER_ENV="GATEWAY_KEEPALIVE_SECONDS=900"
    )
    assert done.returncode == 0, done.stderr
    (deploy,) = calls
    image = names.shell("live", "demo-proj", "europe-west6")["WORKER_IMAGE"]
    assert deploy["argv"] == [
        "run",
        "deploy",
        "ib-live",
        f"--image={image}:abc1234",
        "--region=europe-west6",
        "--execution-environment=gen2",
        "--concurrency=1",
        "--max-instances=1",
        "--min-instances=0",
        "--no-allow-unauthenticated",
        "--ingress=internal",
        "--timeout=540",
        "--memory=2Gi",
        "--cpu=1",
        "--cpu-boost",
        "--service-account=ib-worker-live@demo-proj.iam.gserviceaccount.com",
        "--set-env-vars=^;^TRADING_MODE=live;GOOGLE_CLOUD_PROJECT=demo-proj;GATEWAY_MODE=ibc;"
        "RESULTS_TOPIC=intent-results;GATEWAY_KEEPALIVE_SECONDS=900",
        "--set-secrets=IB_CREDENTIALS_JSON=ib-credentials-live:latest",
        "--labels=app=ib-worker,trading-mode=live,commit-sha=abc1234",
    ]


def test_the_dashboard_is_deployed_private_with_its_own_account(ws):
    ws.names_env()
    done, calls = ws.run(
        "dashboard-deploy", _DASHBOARD_MODES="paper,live", _DASHBOARD_LIVE_CONFIRM="U1234567"
    )
    assert done.returncode == 0, done.stderr
    (deploy,) = calls
    argv = deploy["argv"]
    assert argv[:3] == ["run", "deploy", names.DASHBOARD_SERVICE]
    assert "--no-allow-unauthenticated" in argv and "--allow-unauthenticated" not in argv
    assert "--service-account=ib-dashboard@demo-proj.iam.gserviceaccount.com" in argv
    # IAP's audience for exactly this service: the only way a user's email reaches requestedBy.
    audience = "/projects/123456789012/locations/europe-west6/services/ib-dashboard"
    assert (
        "--set-env-vars=^;^GOOGLE_CLOUD_PROJECT=demo-proj;DASHBOARD_MODES=paper,live;"
        f"DASHBOARD_IAP_AUDIENCE={audience};DASHBOARD_LIVE_CONFIRM=U1234567"
    ) in argv
    done, calls = ws.run("dashboard-deploy")
    assert (
        "--set-env-vars=^;^GOOGLE_CLOUD_PROJECT=demo-proj;DASHBOARD_MODES=paper;"
        f"DASHBOARD_IAP_AUDIENCE={audience}"
    ) in calls[0]["argv"]
    assert ws.run("dashboard-deploy", _DEPLOY_DASHBOARD="false")[1] == []


def test_no_deploy_keeps_stale_settings_or_opens_a_service():
    text = CLOUDBUILD.read_text()
    assert "--update-env-vars" not in text and "--allow-unauthenticated" not in text.replace(
        "--no-allow", ""
    )
    assert "add-iam-policy-binding" not in text and "subscriptions" not in text
    assert "eventarc" not in text


def test_prune_keeps_the_newest_the_serving_and_the_running(ws):
    ws.names_env()
    ws.write("base-tag", "10.37.1l-current")
    shown = names.shell("paper", "demo-proj", "europe-west6")
    revisions = "\n".join(f"ib-paper-{n:05d}" for n in range(8, 0, -1)) + "\n"
    images = "\n".join(f"sha256:{n}{'0' * 63} tag{n}" for n in range(7, 0, -1)) + "\n"
    answers = [
        ("gcloud run services describe ib-paper", "ib-paper-00002\n", 0),
        ("gcloud run services describe ib-dashboard", "ib-dashboard-00001\n", 0),
        ("gcloud run revisions list --service=ib-paper", revisions, 0),
        ("gcloud run revisions list --service=ib-dashboard", "ib-dashboard-00001\n", 0),
        ("gcloud run revisions list --region", f"x@sha256:1{'0' * 63}\n", 0),
        (f"gcloud artifacts docker images list {shown['WORKER_IMAGE']} ", images, 0),
        (
            f"gcloud artifacts docker images list {shown['BASE_IMAGE']} ",
            images.replace("tag2", "x,10.37.1l-current"),
            0,
        ),
        ("gcloud artifacts docker images list", "", 0),
    ]
    done, calls = ws.run("prune", answers, _KEEP="5")
    assert done.returncode == 0, done.stderr
    deleted = [c["argv"][c["argv"].index("delete") + 1] for c in calls if "delete" in c["argv"]]
    assert deleted == [
        "ib-paper-00003",
        "ib-paper-00001",
        f"{shown['WORKER_IMAGE']}@sha256:2{'0' * 63}",
    ], "kept: the newest five, the serving revision, a running image and the current base"


@pytest.mark.skipif(not SHELLCHECK.exists(), reason="needs shellcheck from .venv (make test)")
def test_every_step_passes_shellcheck():
    values = {**BUILD["substitutions"], **BUILTINS}
    for s in BUILD["steps"]:
        script = "#!/usr/bin/env bash\n" + substitute(raw_script(s["id"]), values)
        # SC1091: names.env is written by the first step, not present when linting.
        done = subprocess.run(
            [str(SHELLCHECK), "-s", "bash", "-e", "SC1091", "-"],
            input=script,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{s['id']}:\n{done.stdout}"


def test_time_budget_holds():
    """intent deadline < Cloud Run request timeout < the push subscription's ack deadline."""
    deploy = raw_script("deploy")
    run_timeout = int(re.search(r"--timeout=(\d+)", deploy).group(1))
    options = Options(project="demo-proj", region="europe-west6")
    sub = worker_subscriptions.push_subscription(
        options,
        "worker-push-paper",
        "intents",
        "https://x",
        "/",
        names.ACK_DEADLINE_SECONDS,
        True,
        "s",
    )
    (create,) = sub.create({})
    ack = int(next(a for a in create.argv if a.startswith("--ack-deadline=")).split("=")[1])
    assert Settings().intent_deadline_seconds < run_timeout < ack == names.ACK_DEADLINE_SECONDS
