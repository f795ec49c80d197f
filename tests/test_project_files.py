"""The Makefile and pyproject.toml: `make clean` leaves nothing generated, the dev tools are
pinned exactly (a new release cannot break `make lint` on a fresh clone)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement

from deploy.stack import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make (the worker image has none)")
def test_make_clean_removes_everything_generated_and_nothing_else(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    generated = [
        ".venv/bin/python",
        ".devstack/env",
        ".pytest_cache/v/x",
        ".ruff_cache/x",
        ".hypothesis/examples/x",
        "build/lib/x",
        "ib_pubsub_worker.egg-info/PKG-INFO",
        "__pycache__/x.pyc",
        "worker/__pycache__/x.pyc",
        "worker/gateway/__pycache__/y.pyc",
    ]
    kept = ["worker/main.py", "README.md", "tests/conftest.py"]
    for name in generated + kept:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    done = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(["Makefile", *kept])


def test_dev_tools_are_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    libraries = {
        Requirement(r).name
        for extra, requirements in project["optional-dependencies"].items()
        if extra != "dev"
        for r in requirements
    }
    loose = [
        requirement
        for requirement in map(Requirement, project["optional-dependencies"]["dev"])
        if requirement.name not in libraries  # the other extras' libraries, repeated for dev
        and not (
            len(requirement.specifier) == 1 and next(iter(requirement.specifier)).operator == "=="
        )
    ]
    assert loose == []
