"""`make`'s first step says what it installs, how long that takes, and how far it got.

The venv's python is a stand-in that prints what pip prints (no download in a test); the script,
its subprocess handling and its output are the real ones.
"""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

from deploy import bootstrap
from deploy.stack import ROOT

PACKAGES = [f"pkg{n}" for n in range(25)]
PIP_OUTPUT = "\n".join(
    [
        f"Collecting {name}>=1.0\n  Downloading {name}-1.0-py3-none-any.whl (10 kB)"
        for name in PACKAGES
    ]
    + [
        "Installing collected packages: " + ", ".join(PACKAGES),
        "Successfully installed " + " ".join(f"{n}-1.0" for n in PACKAGES),
    ]
)


def fake_venv(tmp_path: Path, exit_code: int = 0) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (tmp_path / "pip-output.txt").write_text(PIP_OUTPUT + "\n")
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/calls\n'
        'case "$*" in *--quiet*) exit 0 ;; esac\n'
        f"cat {tmp_path}/pip-output.txt\n"
        f"exit {exit_code}\n"
    )
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return venv


def test_a_log_gets_what_how_long_and_progress_lines(tmp_path):
    venv = fake_venv(tmp_path)
    done = subprocess.run(
        [sys.executable, "deploy/bootstrap.py", str(venv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"==> installing {bootstrap.WHAT} into {venv}" in out
    assert "a minute or two the first time" in out
    assert "upgrading pip" in out
    # a progress line every 10 packages, not one per package
    assert "1 packages so far, now pkg0 " in out and "11 packages so far, now pkg10 " in out
    assert "2 packages so far" not in out
    assert "installing 25 packages" in out and "installed 25 packages in" in out
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].startswith("-m pip install --quiet --upgrade pip")
    assert calls[1].startswith("-m pip install -e .[dev]") and "--progress-bar off" in calls[1]


def test_at_a_terminal_one_line_is_rewritten_in_place(tmp_path):
    out = io.StringIO()
    assert bootstrap.bootstrap(fake_venv(tmp_path), out, tty=True) == 0
    shown = out.getvalue()
    assert shown.count("\r\033[K") >= len(PACKAGES)  # one rewrite per package
    assert shown.count("\n") == 3  # the two header lines and the final one


def test_a_failure_shows_pip_s_last_lines_and_its_exit_code(tmp_path):
    out = io.StringIO()
    assert bootstrap.bootstrap(fake_venv(tmp_path, exit_code=7), out, tty=False) == 7
    shown = out.getvalue()
    assert "Successfully installed" in shown  # pip's own last lines
    assert shown.rstrip().endswith("error: pip failed (exit 7); its last lines are above")
