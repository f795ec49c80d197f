"""The line `make up` and `make demo` print for another terminal: it loads the stack's env file."""

from __future__ import annotations

import subprocess

from deploy.stack import LocalStack
from deploy.stack_options import StackOptions


def _loaded(line: str, cwd) -> str:  # type: ignore[no-untyped-def]
    script = f'{line}; printf %s "$PUBSUB_EMULATOR_HOST"'
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, check=True, env={}
    ).stdout


def test_below_the_working_folder_the_path_is_relative_and_the_line_loads_it(tmp_path, monkeypatch):
    (tmp_path / "my state").mkdir()  # start() makes it; this test starts nothing
    stack = LocalStack(StackOptions(state_dir=tmp_path / "my state"), quiet=True)
    monkeypatch.chdir(tmp_path)
    try:
        line = stack.env_file_line()
        assert line == "set -a; . 'my state/env'; set +a"
        assert _loaded(line, tmp_path) == f"127.0.0.1:{stack.pubsub_port}"
    finally:
        stack.stop()
    assert not (tmp_path / "my state" / "env").exists()  # stop() removes it


def test_elsewhere_the_path_is_absolute(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "state").mkdir()
    stack = LocalStack(StackOptions(state_dir=tmp_path / "state"), quiet=True)
    monkeypatch.chdir(tmp_path / "elsewhere")
    try:
        line = stack.env_file_line()
        assert line == f"set -a; . {tmp_path / 'state' / 'env'}; set +a"
        assert _loaded(line, tmp_path / "elsewhere") == f"127.0.0.1:{stack.pubsub_port}"
    finally:
        stack.stop()
