"""The gcloud CLI as the set-up's only executor: reads (checks) and changes, shown as typed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

READ_TIMEOUT_SECONDS = 120
CHANGE_TIMEOUT_SECONDS = 900  # a Firestore database or a first API enablement can take minutes
NOT_FOUND = re.compile(r"NOT_FOUND|not found|does not exist|was not found|404", re.IGNORECASE)
PLAIN = re.compile(r"^[A-Za-z0-9_.,:/@=+%-]+$")


class SetupError(Exception):
    """Something the person running the set-up must fix; the message is one line."""


class InputError(SetupError):
    """What the person gave is not valid (credentials, a file): nothing was changed."""


@dataclass(frozen=True)
class Command:
    """One gcloud command (without `gcloud`); `stdin` supplies a secret at run time only."""

    argv: tuple[str, ...]
    stdin: Callable[[], str] | None = None
    local: bool = False  # a program of this repository (argv[0] is its path), not gcloud

    @classmethod
    def of(cls, *argv: str, stdin: Callable[[], str] | None = None) -> Command:
        return cls(tuple(argv), stdin)

    @classmethod
    def program(cls, *argv: str) -> Command:
        return cls(tuple(argv), local=True)


def shown(argv: Sequence[str]) -> str:
    """A command the way a person would type it."""
    return " ".join(a if PLAIN.match(a) else shlex.quote(a) for a in argv)


class Gcloud:
    """Runs gcloud for one project. In a dry run nothing runs at all, not even a read."""

    def __init__(
        self,
        project: str,
        dry_run: bool,
        say: Callable[[str], None] = print,
        binary: str = "gcloud",
    ) -> None:
        self.project, self.dry_run, self.say, self.binary = project, dry_run, say, binary
        self._reads: dict[tuple[str, ...], str | None] = {}
        self.last_read: tuple[tuple[str, ...], str] | None = None  # for unexpected output

    def full(self, argv: Sequence[str]) -> list[str]:
        out = [self.binary, *argv]
        if not any(a.startswith("--project=") for a in argv):
            out.append(f"--project={self.project}")
        if "--quiet" not in argv:
            out.append("--quiet")
        return out

    def read(self, *argv: str) -> str | None:
        """Output of a read-only command; None when what it asks about does not exist."""
        if self.dry_run:
            raise AssertionError("a dry run reads nothing")  # the planner never asks
        key = tuple(argv)
        if key not in self._reads:
            done = self._call(self.full(argv), None, READ_TIMEOUT_SECONDS)
            if done.returncode == 0:
                self._reads[key] = done.stdout
            elif NOT_FOUND.search(done.stderr):
                self._reads[key] = None
            else:
                raise SetupError(f"`gcloud {shown(argv[:4])}` failed: {_last_line(done.stderr)}")
        return self._reads[key]

    def read_json(self, *argv: str) -> Any:
        """Parsed `--format=json` output; None when it does not exist. A `list` must print an
        array of objects and any other read an object (or nothing): what gcloud prints
        otherwise is a SetupError naming the command and what it printed."""
        text = self.read(*argv, "--format=json")
        if text is None:
            return None
        self.last_read = (argv, text)
        try:
            found = json.loads(text or "null")
        except (ValueError, RecursionError):
            raise SetupError(unexpected(argv, text, "no JSON")) from None
        listing = "list" in argv[:4]
        if found is None:
            return None
        if listing and not (isinstance(found, list) and all(isinstance(x, dict) for x in found)):
            raise SetupError(unexpected(argv, text, "not a JSON list of objects"))
        if not listing and not isinstance(found, dict):
            raise SetupError(unexpected(argv, text, "not a JSON object"))
        return found

    def forget(self) -> None:
        """Drop cached reads (after a change, before checking again)."""
        self._reads.clear()

    def run(self, command: Command) -> None:
        """A change: shown, and run unless this is a dry run."""
        argv = list(command.argv) if command.local else self.full(command.argv)
        self.say(f"    + {shown(argv)}" + ("  < (from standard input)" if command.stdin else ""))
        if self.dry_run:
            return
        if command.local:
            self._program(argv)
            return
        secret = command.stdin() if command.stdin else None
        done = self._call(argv, secret, CHANGE_TIMEOUT_SECONDS)
        if done.returncode != 0:
            message = _masked(_last_line(done.stderr), secret)
            raise SetupError(f"`gcloud {shown(command.argv[:4])}` failed: {message}")
        self.forget()

    def _program(self, argv: list[str]) -> None:
        """One of this repository's programs, its output shown as it comes."""
        try:
            code = subprocess.run(
                argv, stdin=subprocess.DEVNULL, timeout=CHANGE_TIMEOUT_SECONDS, env=real_env()
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SetupError(f"`{shown(argv[1:5])}` could not run: {exc}") from None
        if code.returncode != 0:
            raise SetupError(f"`{shown(argv[1:5])}` failed (exit {code.returncode}): see above")
        self.forget()

    def _call(self, argv: list[str], stdin: str | None, timeout: float):
        try:
            return subprocess.run(
                argv,
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=timeout,
                env=real_env(),
            )
        except FileNotFoundError:
            raise SetupError(f"{self.binary} is not on PATH: install the gcloud CLI") from None
        except subprocess.TimeoutExpired:
            raise SetupError(f"`gcloud {shown(argv[1:5])}` took over {timeout:.0f} s") from None


def unexpected(argv: Sequence[str], text: str, what: str) -> str:
    """One line: the command and (the start of) what it printed, control characters escaped."""
    printed = text.strip()
    printed = repr(printed if len(printed) <= 120 else printed[:117] + "...")
    command = shown([*argv, "--format=json"])
    return f"`gcloud {command}` printed {printed}, {what}: is gcloud up to date?"


def real_env() -> dict[str, str]:
    """This environment without the local stack's emulator variables (a sourced .devstack/env):
    the set-up's commands act on the real project, never on an emulator."""
    return {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _masked(message: str, secret: str | None) -> str:
    """Never repeat any value of the secret, should gcloud ever echo it."""
    if not secret:
        return message
    try:
        values = [v for v in json.loads(secret).values() if isinstance(v, str) and v]
    except (ValueError, AttributeError):
        values = []
    for value in sorted({secret, *values}, key=len, reverse=True):
        message = re.sub(re.escape(value), "***", message, flags=re.IGNORECASE)
    return message
