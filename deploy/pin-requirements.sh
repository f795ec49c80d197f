#!/usr/bin/env bash
# Writes the hash-pinned requirement files the images install with `pip install --require-hashes`:
#   worker/requirements.txt         the closure of pyproject.toml's [project.dependencies]
#   dashboard/requirements.txt      the same plus the `dashboard` extra (the exchange calendar)
#   deploy/build-requirements.txt   the closure of the lint and test tools cloudbuild.yaml runs
# Versions are those installed in the tested .venv; each pin carries the SHA-256 of the wheel pip
# picks for the images' platform (CPython 3.11 on Debian bookworm, x86_64: base/Dockerfile).
#
#   deploy/pin-requirements.sh            # rewrite both (downloads the wheels from the package
#                                         # index to hash them: needs network access)
#   deploy/pin-requirements.sh --check    # offline: exit 1 when a file's pins differ from .venv
#                                         # or a pin has no hash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-${ROOT}/.venv/bin/python}"

exec "${PYTHON}" - "${ROOT}" "$@" <<'PY'
import hashlib
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(sys.argv[1])
CHECK = sys.argv[2:] == ["--check"]
if sys.argv[2:] not in ([], ["--check"]):
    sys.exit("usage: deploy/pin-requirements.sh [--check]")

# The images' interpreter and platform (base/Dockerfile: python:3.11-slim-bookworm, glibc 2.36).
PYTHON_VERSION, GLIBC_MINOR, ARCH = "3.11", 36, "x86_64"
LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
# The fast test lane's imports beyond the worker's own: the publisher's Scheduler client, the
# archived predecessor the simulator is also tested with, and the simulator's exchange calendar.
BUILD_TOOLS = [
    "ruff",
    "mypy",
    "pytest",
    "hypothesis",
    "google-cloud-scheduler",
    "ib_insync",
    "exchange_calendars",
]
TARGETS = {
    ROOT / "worker" / "requirements.txt": (
        "the worker's runtime dependencies (the closure of pyproject.toml's\n"
        "# [project.dependencies]), installed by worker/Dockerfile with --require-hashes.",
        None,
    ),
    ROOT / "dashboard" / "requirements.txt": (
        "the dashboard's runtime dependencies: the worker's and pyproject.toml's\n"
        "# `dashboard` extra (the Schedules page's exchange calendar), installed by\n"
        "# dashboard/Dockerfile with --require-hashes.",
        "dashboard",
    ),
    ROOT / "deploy" / "build-requirements.txt": (
        "the lint and test tools cloudbuild.yaml runs inside the worker image\n"
        "# (ruff, pytest, hypothesis, the test lane's other imports and what they need),\n"
        "# installed with --require-hashes.",
        BUILD_TOOLS,
    ),
}


def closure(roots: list[str]) -> dict[str, str]:
    todo = [Requirement(r) for r in roots]
    pins: dict[str, str] = {}
    while todo:
        req = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(req.name)
        if key in pins:
            continue
        dist = metadata.distribution(req.name)
        pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        todo.extend(Requirement(r) for r in dist.requires or [])
    return pins


def platforms() -> list[str]:
    out = []
    for minor in range(GLIBC_MINOR, 4, -1):
        out.append(f"manylinux_2_{minor}_{ARCH}")
        if minor in LEGACY:
            out.append(f"{LEGACY[minor]}_{ARCH}")
    return [*out, f"linux_{ARCH}"]


def hashes(pins: dict[str, str]) -> dict[str, str]:
    """The SHA-256 of the wheel pip picks for the images, per pin (downloaded, not installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        wanted = Path(tmp) / "pins.txt"
        wanted.write_text("\n".join(pins.values()) + "\n")
        command = [
            sys.executable, "-m", "pip", "download", "--isolated", "--quiet", "--no-deps",
            "--only-binary=:all:", "--dest", tmp, "--requirement", str(wanted),
            f"--python-version={PYTHON_VERSION}", "--implementation=cp",
            f"--abi=cp{PYTHON_VERSION.replace('.', '')}",
            *(f"--platform={p}" for p in platforms()),
        ]
        print(f"downloading {len(pins)} wheels to hash them ...", file=sys.stderr)
        subprocess.run(command, check=True, timeout=1800)
        found = {}
        for wheel in Path(tmp).glob("*.whl"):
            name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            found[name] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    missing = sorted(set(pins) - set(found))
    if missing:
        sys.exit(f"no wheel for {', '.join(missing)}: cannot pin it with a hash")
    return found


def render(header: str, pins: dict[str, str], digests: dict[str, str]) -> str:
    lines = [
        f"# Exact pins with hashes of {header}",
        "# Generated by deploy/pin-requirements.sh from the tested .venv: do not edit by hand.",
    ]
    for key in sorted(pins):
        lines += [f"{pins[key]} \\", f"    --hash=sha256:{digests[key]}"]
    return "\n".join(lines) + "\n"


def read(path: Path) -> tuple[dict[str, str], set[str]]:
    """Pins (name -> name==version) and the names that carry a hash, from a written file."""
    pins, hashed, current = {}, set(), None
    text = path.read_text() if path.exists() else ""
    for raw in text.splitlines():
        line = raw.strip().rstrip("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:") and current:
            if len(line.split(":", 1)[1]) == 64:
                hashed.add(current)
            continue
        current = canonicalize_name(line.split("==")[0])
        pins[current] = line
    return pins, hashed


def main() -> int:
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    runtime = project["dependencies"]
    failed = False
    for path, (header, roots) in TARGETS.items():
        if roots is None:
            roots = runtime
        elif isinstance(roots, str):  # an extra on top of the runtime
            roots = runtime + project["optional-dependencies"][roots]
        pins = closure(roots)
        shown = path.relative_to(ROOT)
        if CHECK:
            have, hashed = read(path)
            if have != pins or set(have) - hashed:
                print(f"{shown} is out of date: run deploy/pin-requirements.sh", file=sys.stderr)
                failed = True
            else:
                print(f"{shown} matches .venv, every pin hashed")
            continue
        path.write_text(render(header, pins, hashes(pins)))
        print(f"wrote {shown} ({len(pins)} pins with hashes)")
    return 1 if failed else 0


sys.exit(main())
PY
