"""Trading config as code: `config.yaml` -> Firestore `config/common` and `config/{mode}`.

`python -m publisher config apply [--mode M] [--dry-run]` validates the file (the schema
`schemas/config.schema.json`, and per mode the merged config against the registered strategies
and instruments), prints the difference to what Firestore holds, then replaces the documents;
`config show [--mode M]` prints what the worker of that mode reads. The local stack seeds from the
same file (`seed`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from worker.config_rules import errors, merge
from worker.database import Database, Options, StoreUnavailable, deadlines

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config.yaml"
MODES = ("paper", "live")
SECTIONS = ("common", *MODES)
EXIT_INVALID, EXIT_UNAVAILABLE = 3, 4
HINT = (
    "is the local stack up (make up, then `set -a; . .devstack/env; set +a`), or are "
    "--project (or GOOGLE_CLOUD_PROJECT) and your gcloud credentials set?"
)


class ConfigFileError(ValueError):
    """The file is not a valid trading config; the message names the key."""


class WrongTarget(ValueError):
    """--project names a real project while the emulators' variables are set."""


def load_file(path: Path, strategy_names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """{section: document} of the file, every section and every mode's merged config valid."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or "common" not in data:
        raise ConfigFileError(f"{path}: expected a mapping with `common` and optional paper, live")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigFileError(
            f"{path}: unknown section {unknown[0]!r} (known: common, paper, live)"
        )
    sections = {name: data[name] if data[name] is not None else {} for name in data}
    for name, section in sections.items():
        found = errors(section, references=False)  # a section may name what common has
        if found:
            raise ConfigFileError(f"{path}: {_in(name, found[0])}")
    for mode in MODES:
        found = errors(effective(sections, mode), strategy_names)
        if found:
            raise ConfigFileError(f"{path}: the {mode} config (common + {mode}): {found[0]}")
    return sections


def _in(section: str, problem: str) -> str:
    return problem.replace("config", f"{section}", 1) if problem.startswith("config") else problem


def effective(sections: dict[str, dict[str, Any]], mode: str) -> dict[str, Any]:
    """What the worker of `mode` reads: common merged with the mode's section."""
    return merge(sections.get("common") or {}, sections.get(mode) or {})


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{dotted key: value}, mappings opened up, lists and scalars as they are."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def difference(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """One line per key that changes: `+ key: value`, `- key: value`, `~ key: old -> new`."""
    before, after = flatten(current), flatten(wanted)
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            lines.append(f"+ {key}: {_text(after[key])}")
        elif key not in after:
            lines.append(f"- {key}: {_text(before[key])}")
        elif before[key] != after[key]:
            lines.append(f"~ {key}: {_text(before[key])} -> {_text(after[key])}")
    return lines


def _text(value: Any) -> str:
    return json.dumps(value, default=str)


class ConfigStore:
    """The `config` collection through the Firestore layer (`worker.database`), as a reader:
    every call with a deadline, every error StoreUnavailable."""

    def __init__(
        self,
        client: Any = None,
        project: str | None = None,
        timeout: float = deadlines.CALL_SECONDS,
    ):
        self.project, self.timeout = project, timeout
        where = Options(project or os.environ.get("GOOGLE_CLOUD_PROJECT") or None, timeout)
        self.db = Database(where, client, decides_conflicts=False)

    def read(self, name: str) -> dict[str, Any]:
        return self.db.get(self.db.document("config", name)).to_dict() or {}

    def write(self, name: str, document: dict[str, Any]) -> None:
        ref = self.db.document("config", name)
        self.db.do(ref.set, document)


def apply(
    store: ConfigStore,
    sections: dict[str, dict[str, Any]],
    modes: list[str],
    *,
    dry_run: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Print each document's difference, then (not a dry run) replace the changed ones.
    Returns how many documents changed (or would)."""
    changed = 0
    for name in ["common", *modes]:
        wanted = sections.get(name) or {}
        lines = difference(store.read(name), wanted)
        if not lines:
            print(f"config/{name}: unchanged", file=out)
            continue
        changed += 1
        print(f"config/{name}:", *(f"  {line}" for line in lines), sep="\n", file=out)
        if not dry_run:
            store.write(name, wanted)
    verb = "would change" if dry_run else "changed"
    print(f"{'dry run: ' if dry_run else ''}{changed} document(s) {verb}", file=out)
    return changed


def seed(client: Any, path: Path = DEFAULT_FILE) -> None:
    """Write every section of the file (the local stack, before the worker starts)."""
    store = ConfigStore(client, timeout=deadlines.EMULATOR_START_SECONDS)
    for name, document in load_file(path).items():
        store.write(name, document)


def cmd_config(args: argparse.Namespace) -> int:
    from publisher import connection

    store = ConfigStore(project=args.project, timeout=args.timeout)
    try:
        if args.action == "apply":
            load_file(args.file)  # a bad file is named before any connection is tried
        if args.project:
            _not_the_emulator(args.project)
            os.environ.setdefault("GOOGLE_CLOUD_PROJECT", args.project)
        connection.check("firestore")
        if args.action == "show":
            return _show(store, args.file, args.mode or "paper")
        sections = load_file(args.file)
        modes = [args.mode] if args.mode else [m for m in MODES if m in sections]
        apply(store, sections, modes, dry_run=args.dry_run)
    except (ConfigFileError, WrongTarget) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except StoreUnavailable as exc:
        print(f"error: {exc}: {HINT}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def _not_the_emulator(project: str) -> None:
    """--project names a real project: refuse to write (or read) it through a sourced
    .devstack/env's emulator instead. The local stack's own project stays allowed."""
    from publisher import connection

    variables = [v for _, v in connection.EMULATORS.values() if os.environ.get(v)]
    if variables and project != os.environ.get("GOOGLE_CLOUD_PROJECT"):
        raise WrongTarget(
            f"--project {project}, but {' and '.join(variables)} point at the local stack's "
            f"emulators: `unset {' '.join(variables)}` to use {project}, or leave out --project "
            "for the local stack"
        )


def _show(store: ConfigStore, path: Path, mode: str) -> int:
    try:
        sections = load_file(path)
    except ConfigFileError as exc:
        sections = {}
        print(f"# {exc}")
    common, own = store.read("common"), store.read(mode)
    current = merge(common, own)
    print(f"# config/common + config/{mode} in Firestore: what the {mode} worker reads")
    print(yaml.safe_dump(current, sort_keys=True, default_flow_style=False).rstrip())
    for problem in errors(current):
        print(f"# not valid: {problem}")
    if (common, own) == (sections.get("common") or {}, sections.get(mode) or {}):
        print("# the same as config.yaml")
    else:
        print(f"# differs from config.yaml: `config apply --mode {mode} --dry-run` shows how")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="trading config as code: config.yaml <-> Firestore")
    config.add_argument("action", choices=["apply", "show"])
    config.add_argument("--file", type=Path, default=DEFAULT_FILE)
    config.add_argument("--project", help="default: GOOGLE_CLOUD_PROJECT")
    config.add_argument(
        "--mode",
        choices=MODES,
        help="apply: common and this mode (default: every mode in the "
        "file); show: the mode whose config to show (default: paper)",
    )
    config.add_argument("--dry-run", action="store_true", help="apply: print, change nothing")
    config.add_argument(
        "--timeout", type=float, default=deadlines.CALL_SECONDS, help=argparse.SUPPRESS
    )
    config.set_defaults(func=cmd_config)
