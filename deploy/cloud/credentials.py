"""The IB credentials for the secret: read once, checked, built with json.dumps, never shown.

From standard input (`{"userid": "...", "password": "..."}`), or prompted for at a terminal (the
password without echo). The value only ever travels on gcloud's standard input.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from typing import TextIO

from deploy.cloud.gcloud import InputError as SetupError

FIELDS = ("userid", "password")
SHAPE = 'JSON {"userid": "...", "password": "..."}'


def check(value: object) -> str:
    """The canonical JSON of valid credentials; SetupError (never showing them) otherwise."""
    if not isinstance(value, dict) or set(value) != set(FIELDS):
        raise SetupError(f"the credentials must be {SHAPE} (value not shown)")
    for field in FIELDS:
        text = value[field]
        if not isinstance(text, str) or not text.strip():
            raise SetupError(f"the credentials' {field} must be a non-empty string")
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            # A newline would let the password add settings to IBC's config.ini.
            raise SetupError(f"the credentials' {field} contains a control character")
    return json.dumps({field: value[field] for field in FIELDS})


def parse(text: str) -> str | None:
    """Credentials from text (standard input); None when there is none."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise SetupError(f"the credentials must be {SHAPE} (value not shown)") from None
    return check(value)


def prompt(mode: str, ask: Callable[[str], str], ask_secret: Callable[[str], str]) -> str | None:
    userid = ask(f"IB user id for {mode} (empty: create the secret without a value): ").strip()
    if not userid:
        return None
    return check({"userid": userid, "password": ask_secret("IB password: ")})


def read(mode: str, stdin: TextIO | None = None) -> str | None:
    stdin = stdin or sys.stdin
    if stdin.isatty():

        def ask(text: str) -> str:
            sys.stderr.write(text)
            sys.stderr.flush()
            return stdin.readline().rstrip("\n")

        return prompt(mode, ask, getpass.getpass)
    return parse(stdin.read())
