"""The first step of every `make` target: create the venv and install the project into it, saying
what is being installed, how long it usually takes, and how far it got.

Standard library only: it runs with the system's python3, before the venv exists.

    python3 deploy/bootstrap.py .venv
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
WHAT = "the worker, publisher and simulator with their dependencies, and the test and lint tools"
EXPECTED = "about 70 packages: a minute or two the first time, seconds after a change"
COLLECTING = re.compile(r"^Collecting ([A-Za-z0-9._-]+)")
INSTALLING = re.compile(r"^Installing collected packages: (.*)")
INSTALLED = re.compile(r"^Successfully installed (.*)")


class Progress:
    """Turns pip's output into a few lines: at a terminal one line rewritten in place, in a log a
    line every `every` packages."""

    def __init__(self, out: TextIO, tty: bool, every: int = 10) -> None:
        self.out, self.tty, self.every = out, tty, every
        self.started = time.monotonic()
        self.collected = 0
        self.installed = 0
        self.tail: deque[str] = deque(maxlen=40)

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f} s"

    def show(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.out.write(f"\r\033[K    {text}" + ("\n" if final else ""))
        else:
            self.out.write(f"    {text}\n")
        self.out.flush()

    def feed(self, line: str) -> None:
        line = line.rstrip()
        self.tail.append(line)
        if found := COLLECTING.match(line):
            self.collected += 1
            if self.tty or self.collected % self.every == 1:
                self.show(
                    f"resolving and downloading: {self.collected} packages so far, now "
                    f"{found.group(1)} ({self._elapsed()})"
                )
        elif found := INSTALLING.match(line):
            count = len(found.group(1).split(","))
            self.show(f"installing {count} packages ({self._elapsed()}) ...")
        elif found := INSTALLED.match(line):
            self.installed = len(found.group(1).split())

    def finish(self) -> None:
        if self.installed:
            self.show(f"installed {self.installed} packages in {self._elapsed()}", final=True)
        else:
            self.show(f"nothing new to install ({self._elapsed()})", final=True)


def run_pip(python: Path, args: list[str], progress: Progress) -> int:
    proc = subprocess.Popen(
        [str(python), "-m", "pip", *args, "--progress-bar", "off", "--disable-pip-version-check"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        progress.feed(line)
    return proc.wait()


def bootstrap(venv: Path, out: TextIO = sys.stdout, tty: bool | None = None) -> int:
    tty = out.isatty() if tty is None else tty
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"==> creating {venv} (python {sys.version.split()[0]})", file=out, flush=True)
        done = subprocess.run([sys.executable, "-m", "venv", str(venv)])
        if done.returncode != 0:
            print(f"error: could not create {venv}: install python3-venv", file=out)
            return done.returncode
    print(f"==> installing {WHAT} into {venv}\n    ({EXPECTED})", file=out, flush=True)
    progress = Progress(out, tty)
    progress.show("upgrading pip ...")
    code = run_pip(python, ["install", "--quiet", "--upgrade", "pip"], progress)
    if code == 0:
        code = run_pip(python, ["install", "-e", ".[dev]"], progress)
    if code != 0:
        print("\n".join(["", *progress.tail]), file=out)
        print(f"error: pip failed (exit {code}); its last lines are above", file=out)
        return code
    progress.finish()
    return 0


if __name__ == "__main__":
    sys.exit(bootstrap(Path(sys.argv[1] if len(sys.argv) > 1 else ".venv")))
