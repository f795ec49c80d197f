"""deploy/update-gateway.sh and deploy/update-python-image.sh: moving a pin rewrites exactly it.

The gateway's installer comes from a file:// URL (a stand-in with the real installer's layout,
tests/deploy/test_artifacts_base.py); docker is a stand-in that answers `inspect` with a digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.test_artifacts_base import install, make_installer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def update_gateway(dockerfile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "deploy" / "update-gateway.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GATEWAY_DOCKERFILE": str(dockerfile)},
    )


def arg(dockerfile: Path, name: str) -> str:
    return re.search(rf"(?m)^ARG {name}=(.*)$", dockerfile.read_text()).group(1)


def test_a_new_release_is_pinned_and_the_build_then_installs_it(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(ROOT / "base" / "Dockerfile", dockerfile)
    before = dockerfile.read_text()
    installer, digest = make_installer(tmp_path)
    done = update_gateway(
        dockerfile, "10.37.1l", "--channel", "latest", "--url", installer.as_uri()
    )
    assert done.returncode == 0, done.stderr
    assert digest in done.stdout
    assert (arg(dockerfile, "IB_GATEWAY_VERSION"), arg(dockerfile, "IB_GATEWAY_SHA256")) == (
        "10.37.1l",
        digest,
    )
    assert arg(dockerfile, "IB_GATEWAY_CHANNEL") == "latest"
    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), dockerfile.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 3, "only the three pin lines change"
    # What the base build does with the pin: verify and install.
    result = install(
        tmp_path,
        installer,
        IB_GATEWAY_SHA256=arg(dockerfile, "IB_GATEWAY_SHA256"),
        IB_GATEWAY_VERSION=arg(dockerfile, "IB_GATEWAY_VERSION"),
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args",
    [(), ("latest",), ("10.37",), ("10.37.1l", "--channel", "beta"), ("10.37.1l", "--bogus")],
)
def test_bad_arguments_change_nothing(tmp_path, args):
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(ROOT / "base" / "Dockerfile", dockerfile)
    before = dockerfile.read_text()
    done = update_gateway(dockerfile, *args)
    assert done.returncode == 2
    assert done.stderr.startswith("update-gateway.sh: error:")
    assert dockerfile.read_text() == before


def test_a_failed_download_changes_nothing(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(ROOT / "base" / "Dockerfile", dockerfile)
    before = dockerfile.read_text()
    done = update_gateway(dockerfile, "10.37.1l", "--url", (tmp_path / "missing.sh").as_uri())
    assert done.returncode == 2 and "could not download" in done.stderr
    assert dockerfile.read_text() == before


DOCKER = f"""#!{sys.executable} -S
import os, sys
if sys.argv[1] == "inspect":
    print("python@sha256:" + os.environ["STUB_DIGEST"])
"""


def test_the_python_image_digest_is_rewritten_in_both_places(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(DOCKER)
    (bin_dir / "docker").chmod(0o755)
    dockerfile, cloudbuild = tmp_path / "Dockerfile", tmp_path / "cloudbuild.yaml"
    dashboard = tmp_path / "dashboard.Dockerfile"
    shutil.copy(ROOT / "base" / "Dockerfile", dockerfile)
    shutil.copy(ROOT / "cloudbuild.yaml", cloudbuild)
    shutil.copy(ROOT / "dashboard" / "Dockerfile", dashboard)
    digest = hashlib.sha256(b"new image").hexdigest()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(ROOT / "deploy" / "update-python-image.sh"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "STUB_DIGEST": digest,
                "PYTHON_IMAGE_DOCKERFILE": str(dockerfile),
                "PYTHON_IMAGE_CLOUDBUILD": str(cloudbuild),
                "PYTHON_IMAGE_DASHBOARD": str(dashboard),
            },
        )

    done = run()
    assert done.returncode == 0, done.stderr
    pinned = f"python:3.11-slim-bookworm@sha256:{digest}"
    assert arg(dockerfile, "PYTHON_IMAGE") == pinned
    assert f"name: {pinned}" in cloudbuild.read_text()
    assert arg(dashboard, "PYTHON_IMAGE") == pinned
    assert run("ubuntu:24.04").returncode == 2
    assert run("python:3.12-slim-bookworm; rm -rf /").returncode == 2
    assert arg(dockerfile, "PYTHON_IMAGE") == pinned
