"""`python -m deploy images` (`make images`): the three images, built here as Cloud Build builds
them, from the same Dockerfiles, with stand-ins only for what cannot be fetched here.

    localhost/ib-gateway-base:local   base/Dockerfile (stand-in Python image, IB Gateway, IBC)
    localhost/ib-worker:local         worker/Dockerfile on that base
    localhost/ib-dashboard:local      dashboard/Dockerfile (stand-in Python image)

The layer cache is kept: a second run rebuilds only what changed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.images import buildah, python_base, standins
from deploy.processes import StackError

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "images"
BASE_IMAGE = "localhost/ib-gateway-base:local"
WORKER_IMAGE = "localhost/ib-worker:local"
DASHBOARD_IMAGE = "localhost/ib-dashboard:local"


@dataclass(frozen=True)
class Built:
    info: buildah.ImageInfo
    seconds: float
    over: buildah.ImageInfo | None  # the base its own layers are counted against


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def build(rebuild_python: bool = False) -> dict[str, Built]:
    buildah.ensure_installed()
    python = python_base.ensure(WORK, rebuild=rebuild_python)
    built: dict[str, Built] = {}

    def done(ref: str, seconds: float, over: str | None) -> None:
        info = buildah.inspect(ref)
        assert info is not None, ref
        built[ref] = Built(info, seconds, buildah.inspect(over) if over else None)

    with standins.served(WORK / "downloads") as downloads:
        seconds = buildah.bud(
            ROOT / "base",
            BASE_IMAGE,
            ROOT / "base" / "Dockerfile",
            {"PYTHON_IMAGE": python, **downloads.build_args()},
        )
    done(BASE_IMAGE, seconds, python)
    seconds = buildah.bud(
        ROOT, WORKER_IMAGE, ROOT / "worker" / "Dockerfile", {"BASE_IMAGE": BASE_IMAGE}
    )
    done(WORKER_IMAGE, seconds, BASE_IMAGE)
    seconds = buildah.bud(
        ROOT,
        DASHBOARD_IMAGE,
        ROOT / "dashboard" / "Dockerfile",
        {"PYTHON_IMAGE": python},
        ignorefile=ROOT / "dashboard" / "Dockerfile.dockerignore",
    )
    done(DASHBOARD_IMAGE, seconds, python)
    return built


def report(built: dict[str, Built], total: float) -> str:
    lines = [f"{'image':<34} {'id':<12} {'size':>9} {'own layers':>11} {'built in':>9}"]
    for ref, b in built.items():
        own = b.info.added_to(b.over) if b.over else b.info.size
        over = f"{_mb(own):>11}"
        lines.append(
            f"{ref:<34} {b.info.id[:12]:<12} {_mb(b.info.size):>9} {over} {b.seconds:>8.1f}s"
        )
    lines.append(
        "own layers: what each adds to the image it builds on (the worker's to the gateway "
        "base, the base's and the dashboard's to the Python image)"
    )
    lines.append(f"all three in {total:.0f} s (a run with nothing changed reuses every layer)")
    return "\n".join(lines)


def main(rebuild_python: bool = False) -> int:
    started = time.monotonic()
    try:
        built = build(rebuild_python=rebuild_python)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report(built, time.monotonic() - started), flush=True)
    return 0
