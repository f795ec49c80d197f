"""The stand-in for base/Dockerfile's digest-pinned `python:3.11-slim-bookworm`, which no registry
reachable here serves: Debian bookworm (debootstrap, from Debian's archive) with its python3.11,
`python` and `pip` on PATH, and pip allowed to install into the system as the official image
allows. Built once; later runs reuse the image.

The machine's own extra certificate authorities (/usr/local/share/ca-certificates, e.g. an egress
proxy's) are trusted in the stand-in too, so that pip and apt inside builds reach what the host
reaches; nothing of the host goes into the real images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from deploy.images import buildah
from deploy.processes import StackError

IMAGE = "localhost/python-standin:3.11-bookworm"
PACKAGES = ("python3", "python3-pip", "python3-venv", "python-is-python3", "ca-certificates")
DOCKERFILE = Path(__file__).resolve().parent / "standins" / "python.Dockerfile"


def _say(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def ensure(workdir: Path, rebuild: bool = False) -> str:
    """The stand-in image's reference, built first when missing (about a minute)."""
    if not rebuild and buildah.inspect(IMAGE) is not None:
        return IMAGE
    buildah.ensure_installed("debootstrap")
    root = workdir / "python-root"
    shutil.rmtree(root, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _say(f"debootstrap bookworm with {', '.join(PACKAGES)} (about a minute)")
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm"]
    command.append(str(root))
    if os.environ.get("DEBIAN_MIRROR"):
        command.append(os.environ["DEBIAN_MIRROR"])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise StackError(f"debootstrap failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    # The official image has no such marker: pip installs into the system Python there.
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    _trust_host_authorities(root)
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    context = workdir / "python-context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir()
    packed = subprocess.run(
        ["tar", "-C", str(root), "-cf", str(context / "rootfs.tar"), "."],
        capture_output=True,
        text=True,
        check=False,
    )
    if packed.returncode != 0:
        raise StackError(f"packing the Debian root failed:\n{packed.stderr[-2000:]}")
    shutil.rmtree(root, ignore_errors=True)
    shutil.copy(DOCKERFILE, context / "Dockerfile")
    buildah.bud(context, IMAGE, context / "Dockerfile")
    shutil.rmtree(context, ignore_errors=True)
    _say(f"{IMAGE} built in {time.monotonic() - started:.0f} s")
    return IMAGE


def _trust_host_authorities(root: Path) -> None:
    local = Path("/usr/local/share/ca-certificates")
    extra = sorted(local.glob("**/*.crt")) if local.is_dir() else []
    if not extra:
        return
    for cert in extra:
        target = root / cert.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cert, target)
    done = subprocess.run(
        ["chroot", str(root), "update-ca-certificates"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise StackError(f"update-ca-certificates in the stand-in failed:\n{done.stderr[-2000:]}")
    _say(f"the stand-in trusts this machine's {len(extra)} extra certificate authorities")
