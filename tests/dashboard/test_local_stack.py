"""The local stack runs the dashboard next to the worker: its URL in the env file, and nothing
of it left once the stack stops."""

from __future__ import annotations

import os
import subprocess
import urllib.request

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
