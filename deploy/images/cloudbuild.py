"""`python -m deploy cloudbuild` (`make cloudbuild`): cloudbuild.yaml's steps, read from the file
itself and run here in order, as Cloud Build runs them.

- Substitutions as Cloud Build applies them: `${NAME}` and `$NAME` for the built-in and the
  file's `_NAME` substitutions, `$$` for a literal `$`; a name the build does not know, or a
  given `_NAME` the file never uses, fails the build before any step (no ALLOW_LOOSE).
- `/workspace` is a fresh copy of the source as `gcloud builds submit` uploads it (what git
  tracks and does not ignore), owned by root; each step runs in it with the options' and its own
  environment and its entrypoint.
- A step on the Python image or on an image the build made runs in that image (buildah, the
  workspace mounted at /workspace, the image's user); the stand-in Python image replaces the
  pinned one.
- A `gcr.io/cloud-builders/docker` step runs here with `docker` mapped to buildah
  (docker_shim.py), pushing to a local OCI store; a `cloud-sdk` step runs here with the recording
  gcloud stand-in of the set-up tests (tests/deploy/fake_gcloud.py), which keeps what was
  deployed in build/cloudbuild/gcloud-state.json.
- IB Gateway is pinned in the workspace by deploy/update-gateway.sh against the stand-in
  installer, as a user pins a real release; nothing in the repository changes.

Each step's id, outcome and time are printed; the first failure stops the build (exit 1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from deploy.images import buildah, python_base, standins
from deploy.processes import StackError

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "cloudbuild"
PINNED_PYTHON = re.compile(r"^python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}$")
HOST_STEPS = {
    "gcr.io/cloud-builders/docker": "docker",
    "gcr.io/google.com/cloudsdktool/cloud-sdk:slim": "cloud-sdk",
}
_TOKEN = re.compile(r"\$\$|\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")


class SubstitutionError(ValueError):
    """The build's substitutions do not fit its template, as Cloud Build refuses them."""


@dataclass(frozen=True)
class Step:
    id: str
    image: str
    command: list[str]
    env: dict[str, str]


@dataclass
class Build:
    steps: list[Step]
    used: set[str] = field(default_factory=set)


def substitute(text: str, values: Mapping[str, str], used: set[str] | None = None) -> str:
    """Cloud Build's rules for one string: `$$` is `$`; `${NAME}` and `$NAME` are replaced."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name not in values:
            raise SubstitutionError(
                f"key in the template {name!r} is not a valid built-in substitution"
            )
        if used is not None:
            used.add(name)
        return values[name]

    return _TOKEN.sub(replace, text)


def load(config: dict, values: Mapping[str, str]) -> Build:
    """The steps with every substitution applied; refused as Cloud Build refuses them."""
    given_user = {k for k in values if k.startswith("_")}
    unknown = sorted(k for k in given_user if k not in (config.get("substitutions") or {}))
    if unknown:
        raise SubstitutionError(f"substitution {unknown[0]!r} is not declared in the build file")
    build = Build(steps=[])
    options_env = [substitute(e, values, build.used) for e in config["options"].get("env", [])]
    for raw in config["steps"]:
        env = dict(entry.split("=", 1) for entry in options_env)
        for entry in raw.get("env", []):
            key, _, value = substitute(entry, values, build.used).partition("=")
            env[key] = value
        args = [substitute(a, values, build.used) for a in raw.get("args", [])]
        entrypoint = raw.get("entrypoint")
        command = [substitute(entrypoint, values, build.used), *args] if entrypoint else args
        build.steps.append(
            Step(raw["id"], substitute(raw["name"], values, build.used), command, env)
        )
    unused = sorted(given_user - build.used)
    if unused:
        raise SubstitutionError(f"key {unused[0]!r} in the substitution data is not used")
    return build


def values_for(config: dict, given: Mapping[str, str], project: str, sha: str) -> dict[str, str]:
    """Cloud Build's built-in substitutions for a manual build of commit `sha`, the file's
    defaults, then what was given."""
    return {
        "PROJECT_ID": project,
        "PROJECT_NUMBER": "123456789012",
        "BUILD_ID": str(uuid.uuid4()),
        "LOCATION": given.get("_REGION", config["substitutions"].get("_REGION", "")),
        "COMMIT_SHA": sha,
        "SHORT_SHA": sha[:7],
        **{k: str(v) for k, v in config["substitutions"].items()},
        **given,
    }


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def workspace(folder: Path) -> Path:
    """The source as `gcloud builds submit` uploads it, owned by root, readable by all."""
    shutil.rmtree(folder, ignore_errors=True)
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        mode = 0o755 if source.stat().st_mode & stat.S_IXUSR else 0o644
        os.chmod(target, mode)
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            os.chmod(path, 0o755)
    return folder


def _say(message: str) -> None:
    print(f"[cloudbuild] {message}", flush=True)


def forget_earlier_builds(registry: str) -> int:
    """Untag every local image of the build's registry (`REGION-docker.pkg.dev/PROJECT/`), as a
    Cloud Build worker starts without them: `docker push --all-tags` then pushes this build's
    tags only. The layer cache stays."""
    listed = buildah.buildah("images", "--format", "{{.Name}}:{{.Tag}}").split()
    stale = [ref for ref in listed if ref.startswith(registry)]
    for ref in stale:
        buildah.buildah("rmi", ref)
    return len(stale)


class Runner:
    def __init__(self, work: Path, served: standins.Served, python: str) -> None:
        self.work = work
        self.ws = work / "workspace"
        self.python = python
        self.shims = work / "bin"
        self.standin_args = {
            "PYTHON_IMAGE": python,
            **{k: v for k, v in served.build_args().items() if k.endswith(("_URL", "IBC_SHA256"))},
            "IBC_VERSION": standins.IBC_VERSION,
        }

    def prepare(self, served: standins.Served) -> None:
        workspace(self.ws)
        pin = subprocess.run(
            [
                "bash",
                str(ROOT / "deploy" / "update-gateway.sh"),
                standins.GATEWAY_VERSION,
                "--url",
                served.build_args()["IB_GATEWAY_URL"],
            ],
            env={**os.environ, "GATEWAY_DOCKERFILE": str(self.ws / "base" / "Dockerfile")},
            capture_output=True,
            text=True,
            check=False,
        )
        if pin.returncode != 0:
            raise StackError(f"pinning the stand-in gateway failed:\n{pin.stderr}")
        _say(pin.stdout.strip().splitlines()[-2] if pin.stdout.strip() else "gateway pinned")
        shutil.rmtree(self.shims, ignore_errors=True)
        self.shims.mkdir(parents=True)
        for tool, script in (
            ("docker", ROOT / "deploy" / "images" / "docker_shim.py"),
            ("gcloud", ROOT / "tests" / "deploy" / "fake_gcloud.py"),
        ):
            shim = self.shims / tool
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{script}" "$@"\n')
            shim.chmod(0o755)
        (self.work / "gcloud.log").write_text("")

    def run(self, step: Step) -> int:
        kind = HOST_STEPS.get(step.image)
        if kind is not None:
            return self._on_host(step)
        image = self.python if PINNED_PYTHON.match(step.image) else step.image
        return self._in_image(step, image)

    def _on_host(self, step: Step) -> int:
        env = {
            "PATH": f"{self.shims}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.work / "home"),
            "STANDIN_BUILD_ARGS": json.dumps(self.standin_args),
            "CLOUDBUILD_REGISTRY": str(self.work / "registry"),
            "FAKE_GCLOUD_STATE": str(self.work / "gcloud-state.json"),
            "FAKE_GCLOUD_LOG": str(self.work / "gcloud.log"),
            **step.env,
        }
        (self.work / "home").mkdir(exist_ok=True)
        return subprocess.run(step.command, cwd=self.ws, env=env, check=False).returncode

    def _in_image(self, step: Step, image: str) -> int:
        if buildah.inspect(image) is None:
            print(f"step image {image} is not here (no registry reachable)", file=sys.stderr)
            return 1
        container = buildah.new_container(image, f"cloudbuild-{step.id}-{uuid.uuid4().hex[:6]}")
        try:
            command = buildah.run_command(
                container,
                step.command,
                env=step.env,
                workdir="/workspace",
                mounts=[(self.ws, "/workspace", False)],
            )
            return subprocess.run(command, check=False).returncode
        finally:
            buildah.remove(container)


def main(substitutions: list[str], project: str = "local-ib") -> int:
    config = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    malformed = [pair for pair in substitutions if "=" not in pair]
    if malformed:
        print(f"cloudbuild: substitution {malformed[0]!r} is not KEY=VALUE", file=sys.stderr)
        return 1
    given = dict(pair.split("=", 1) for pair in substitutions)
    try:
        values = values_for(config, given, project, _git("rev-parse", "HEAD"))
        build = load(config, values)
    except SubstitutionError as exc:
        print(f"cloudbuild.yaml: {exc}", file=sys.stderr)
        return 1
    try:
        buildah.ensure_installed()
        python = python_base.ensure(ROOT / "build" / "images")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    WORK.mkdir(parents=True, exist_ok=True)
    forgotten = forget_earlier_builds(f"{values['_REGION']}-docker.pkg.dev/{project}/")
    if forgotten:
        _say(f"untagged {forgotten} images of earlier builds (a build starts without them)")
    outcomes: list[tuple[str, str, float]] = []
    with standins.served(WORK / "downloads") as served:
        runner = Runner(WORK, served, python)
        try:
            runner.prepare(served)
        except StackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for step in build.steps:
            _say(f"step {step.id} ({step.image})")
            started = time.monotonic()
            code = runner.run(step)
            seconds = time.monotonic() - started
            outcomes.append((step.id, "ok" if code == 0 else f"FAILED (exit {code})", seconds))
            _say(f"step {step.id}: {outcomes[-1][1]} in {seconds:.1f} s")
            if code != 0:
                break
    print("\n".join(f"{sid:<16} {outcome:<16} {s:7.1f} s" for sid, outcome, s in outcomes))
    failed = [sid for sid, outcome, _ in outcomes if outcome != "ok"]
    if failed:
        print(f"cloudbuild: step {failed[0]} failed", file=sys.stderr)
        return 1
    print(f"cloudbuild: all {len(outcomes)} steps passed")
    return 0
