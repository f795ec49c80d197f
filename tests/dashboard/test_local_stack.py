"""The local stack runs the dashboard next to the worker: its URL in the env file, and nothing
of it left once the stack stops."""

from __future__ import annotations

import os
import subprocess
import urllib.request

import pytest

from deploy.stack import LocalStack, StackOptions


def _dashboards() -> list[str]:
    listed = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in listed.splitlines() if "-m dashboard --port" in line]


def test_the_stack_serves_the_dashboard_and_names_it_in_the_env_file(stack) -> None:
    assert stack.children["dashboard"].running
    with urllib.request.urlopen(stack.dashboard_url + "healthz", timeout=5) as response:
        assert response.read() == b"ok\n"
    env = stack.write_env_file().read_text()
    assert f"DASHBOARD_URL={stack.dashboard_url}\n" in env


@pytest.mark.stack
def test_stopping_the_stack_stops_its_dashboard(tmp_path) -> None:
    saved = dict(os.environ)  # a second stack points the process's clients at itself
    local = LocalStack(StackOptions(project="dash-stop", state_dir=tmp_path), quiet=True)
    try:
        local.start()
        pid = local.children["dashboard"].proc.pid
        assert any(line.split()[0] == str(pid) for line in _dashboards())
    finally:
        local.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert not any(line.split()[0] == str(pid) for line in _dashboards())


def _run_dashboard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    import sys

    from deploy.stack import ROOT

    clean = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_python_m_dashboard_says_what_is_missing_in_one_line() -> None:
    import socket

    no_project = _run_dashboard({})
    assert no_project.returncode == 2
    assert no_project.stderr.strip().startswith("error: GOOGLE_CLOUD_PROJECT is not set")
    assert len(no_project.stderr.strip().splitlines()) == 1
    bad_modes = _run_dashboard({"GOOGLE_CLOUD_PROJECT": "p", "DASHBOARD_MODES": "paper,demo"})
    assert bad_modes.returncode == 2
    assert "DASHBOARD_MODES='paper,demo': expected a comma list of paper, live" in bad_modes.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = _run_dashboard({"GOOGLE_CLOUD_PROJECT": "p"}, "--port", port)
    assert busy.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "Traceback" not in no_project.stderr + bad_modes.stderr + busy.stderr
