"""The `docker` that cloudbuild.yaml's docker steps get here: what it accepts and refuses, where a
push goes, and which stand-in build arguments a Dockerfile is given (only those it declares and
the step did not set). Builds themselves run in `make cloudbuild` (image checks)."""

from __future__ import annotations

import json

import pytest

from deploy.images import docker_shim


@pytest.fixture
def calls(monkeypatch):
    """buildah's calls, answered with success and recorded."""
    seen: list[tuple[str, ...]] = []

    class Done:
        returncode = 0
        stdout = ""
        stderr = ""

    def fake(*args: str, capture: bool = False) -> Done:
        seen.append(args)
        return Done()

    monkeypatch.setattr(docker_shim, "_buildah", fake)
    return seen


def test_a_build_gets_the_stand_ins_its_dockerfile_declares_and_keeps_the_steps_own(
    tmp_path, calls, monkeypatch
):
    (tmp_path / "Dockerfile").write_text(
        "ARG PYTHON_IMAGE=x\nARG IBC_URL=y\nFROM ${PYTHON_IMAGE}\n"
    )
    standins = {
        "PYTHON_IMAGE": "localhost/py",
        "IBC_URL": "http://s/ibc.zip",
        "IB_GATEWAY_URL": "g",
    }
    monkeypatch.setenv("STANDIN_BUILD_ARGS", json.dumps(standins))
    argv = ["build", "--pull", "--build-arg", "IBC_URL=mine", "--label", "commit-sha=abc"]
    code = docker_shim.main([*argv, "--tag", "r/w:1", "-t", "r/w:latest", str(tmp_path)])
    assert code == 0
    (args,) = calls
    pairs = [args[i + 1] for i, a in enumerate(args) if a == "--build-arg"]
    assert pairs == ["IBC_URL=mine", "PYTHON_IMAGE=localhost/py"]  # no IB_GATEWAY_URL: undeclared
    assert list(args[args.index("-t") : args.index("-t") + 2]) == ["-t", "r/w:1"]
    assert "--pull-never" in args and "--label" in args and args[-1] == str(tmp_path)
    assert args[args.index("--format") + 1] == "docker"  # SHELL kept, as Docker builds


def test_a_dockerfiles_own_ignore_file_is_used(tmp_path, calls):
    (tmp_path / "dash.Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "dash.Dockerfile.dockerignore").write_text("*\n")
    assert docker_shim.main(["build", "-f", str(tmp_path / "dash.Dockerfile"), str(tmp_path)]) == 0
    assert "--ignorefile" in calls[0]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["run", "x"],
        ["build", "--squash", "."],
        ["build"],
        ["build", "a", "b"],
        ["build", "--tag"],
        ["push"],
        ["push", "a", "b"],
        ["inspect", "x"],
        ["inspect", "--format", "{{.Id}}", "x"],
    ],
)
def test_what_cloudbuild_yaml_never_asks_is_refused_with_a_line(argv, calls, capsys):
    assert docker_shim.main(argv) == 1
    assert capsys.readouterr().err.startswith("docker (buildah stand-in): ")
    assert calls == []


def test_a_push_goes_to_the_local_store_by_repository_and_tag(tmp_path, calls, monkeypatch):
    monkeypatch.setenv("CLOUDBUILD_REGISTRY", str(tmp_path))
    assert docker_shim.main(["push", "eu-docker.pkg.dev/p/r/ib-worker:abc1234"]) == 0
    (args,) = calls
    assert args[-1] == f"oci:{tmp_path}/eu-docker.pkg.dev_p_r_ib-worker:abc1234"
