"""buildah, the daemonless OCI builder: the few calls the project makes, with clear errors.

Builds and runs use chroot isolation (no user namespaces or daemon needed, the host's network),
so a container reaches the emulators and the stand-in downloads on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import StackError, container_removed, remove_container_on_exit

ISOLATION = "chroot"
# `buildah run` takes environment values only as --env on its command line (1.28 has no env
# file), where any local user reads them (/proc/PID/cmdline). Names and values that carry a
# credential are refused there: they go in a read-only mounted file (container.prepare).
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|SECRET_KEY|CREDENTIALS_JSON|WEBHOOK|NOTIFY_URL",
    re.IGNORECASE,
)
URL_WITH_LOGIN = re.compile(r"://[^/@\s]+:[^/@\s]*@")
# Docker's image format, as Docker builds: the OCI format has no SHELL, so buildah would run the
# Dockerfiles' RUN lines with /bin/sh instead of their `bash -o pipefail`.
FORMAT = "docker"


def _say(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def ensure_installed(*tools: str) -> None:
    """buildah (and e.g. debootstrap) from Debian's packages when missing, as `.ci/run` installs
    chromium; elsewhere a clear error."""
    packages = {"buildah": "buildah", "debootstrap": "debootstrap"}
    missing = [t for t in ("buildah", *tools) if shutil.which(t) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise StackError(f"{', '.join(missing)} needed: install them with your package manager")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    _say(f"installing {' '.join(missing)} (apt-get, about a minute)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [*sudo, "apt-get", "update", "-qq"],
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends"]
        + [packages[t] for t in missing],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")


def buildah(*args: str, capture: bool = True, timeout: float | None = None) -> str:
    """Run `buildah ARGS`; its output, or a StackError with the end of what it said."""
    done = subprocess.run(
        ["buildah", *args],
        stdin=subprocess.DEVNULL,
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        said = (done.stderr or "")[-3000:] if capture else "(see above)"
        raise StackError(f"buildah {args[0]} failed (exit {done.returncode}):\n{said}")
    return done.stdout if capture else ""


@dataclass(frozen=True)
class ImageInfo:
    ref: str
    id: str
    layers: tuple[tuple[str, int], ...]  # (digest, bytes uncompressed), the base's first

    @property
    def size(self) -> int:
        return sum(size for _, size in self.layers)

    def added_to(self, base: ImageInfo) -> int:
        """The bytes of this image's layers that `base` does not have."""
        theirs = {digest for digest, _ in base.layers}
        return sum(size for digest, size in self.layers if digest not in theirs)


def inspect(ref: str) -> ImageInfo | None:
    """The image's id and layers, or None when there is no such image."""
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", ref],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    data = json.loads(done.stdout)
    manifest = json.loads(data["Manifest"])
    layers = tuple((layer["digest"], int(layer["size"])) for layer in manifest["layers"])
    return ImageInfo(ref=ref, id=data["FromImageID"], layers=layers)


def bud(
    context: Path,
    tag: str,
    dockerfile: Path,
    build_args: Mapping[str, str] | None = None,
    ignorefile: Path | None = None,
) -> float:
    """`docker build` with buildah, the layer cache kept; the seconds it took."""
    args = ["bud", "--isolation", ISOLATION, "--layers", "--force-rm", "--network", "host"]
    args += ["--format", FORMAT, "-f", str(dockerfile)]
    args += ["-t", tag]
    if ignorefile is not None:
        args += ["--ignorefile", str(ignorefile)]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    started = time.monotonic()
    _say(f"building {tag} from {dockerfile}")
    buildah(*args, str(context), capture=False)
    return time.monotonic() - started


def config(ref: str) -> dict[str, object]:
    """The image's OCI config (User, Env, Cmd, Entrypoint, WorkingDir)."""
    data = json.loads(buildah("inspect", "--type", "image", ref))
    return (data.get("OCIv1") or {}).get("config") or {}


def new_container(image: str, name: str) -> str:
    """A working container of `image` (removed by the watchdog if this process dies first)."""
    container = buildah("from", "--pull-never", "--name", name, image).strip()
    remove_container_on_exit(container)
    return container


def remove(container: str) -> None:
    subprocess.run(["buildah", "rm", container], capture_output=True, check=False, timeout=120)
    container_removed(container)


def credential_like(key: str, value: str) -> bool:
    """Whether an environment entry carries a credential: by its name (a password, token, key,
    webhook address, IB's credentials as JSON), or a value holding a URL's login or a password
    field."""
    return bool(
        SECRET_NAME.search(key) or URL_WITH_LOGIN.search(value) or '"password"' in value.lower()
    )


def run_command(
    container: str,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    workdir: str | None = None,
    mounts: Sequence[tuple[Path, str, bool]] = (),
) -> list[str]:
    """The `buildah run` command line for `command` in `container`: host network, chroot
    isolation; `mounts` are (host path, container path, read-only). No secret may be in `env`:
    it is on the command line (hand secrets over in a read-only mounted file)."""
    args = ["buildah", "run", "--isolation", ISOLATION, "--network", "host"]
    if user is not None:
        args += ["--user", user]
    if workdir is not None:
        args += ["--workingdir", workdir]
    for key, value in (env or {}).items():
        if credential_like(key, value):
            raise StackError(
                f"{key} looks like a credential and would be on buildah's command line: hand it "
                f"over in a read-only mounted file instead"
            )
        args += ["--env", f"{key}={value}"]
    for source, target, read_only in mounts:
        args += ["--volume", f"{source}:{target}:{'ro' if read_only else 'rw'}"]
    return [*args, container, "--", *command]


def working_containers() -> list[str]:
    """The names of every buildah working container on this machine."""
    done = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split()
