"""A process of the stack run inside an image: a buildah working container on the host's network,
run as the image's user with the image's own command, its files as the image has them (the
source root-owned, so read-only to that user). Stopping it stops the process tree and removes the
working container; the watchdog does both if the stack process dies first.

Secrets never go on the `buildah run` command line: they are written to a file readable only by
the container's user and mounted read-only, as Cloud Run mounts a secret volume.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.images import buildah
from deploy.processes import Child, StackError, keep, remove_on_exit

CREDENTIALS_MOUNT = "/run/secrets/ib-credentials.json"


@dataclass
class ContainerChild(Child):
    """A `Child` whose command is `buildah run` in `container`."""

    container: str = ""
    secret_file: Path | None = None

    def stop(self, grace: float = 10.0) -> None:
        try:
            super().stop(grace)
        finally:
            if self.container:
                buildah.remove(self.container)
                self.container = ""
            if self.secret_file is not None:
                self.secret_file.unlink(missing_ok=True)
                keep(self.secret_file)
                self.secret_file = None


def image_user(image: str) -> tuple[int, int]:
    """The numeric uid and gid an image runs as (its USER); a name-only user is refused."""
    info = buildah.config(image)
    user = str(info.get("User") or "0").split(":")
    if not all(part.isdigit() for part in user):
        raise StackError(f"{image} runs as user {':'.join(user)!r}: give a numeric USER")
    uid = int(user[0])
    return uid, int(user[1]) if len(user) > 1 else uid


def _strings(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def image_command(image: str) -> list[str]:
    info = buildah.config(image)
    command = [str(part) for key in ("Entrypoint", "Cmd") for part in _strings(info.get(key))]
    if not command:
        raise StackError(f"{image} has no CMD")
    return command


def fake_credentials() -> str:
    """Login values for the stand-in IBC: random each run, shaped like nothing real."""
    return json.dumps(
        {"userid": f"standin-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(18)}
    )


def prepare(
    name: str,
    image: str,
    env: Mapping[str, str],
    log_path: Path,
    mounts: Sequence[tuple[Path, str, bool]] = (),
    credentials: str | None = None,
    secrets_dir: Path | None = None,
    command: Sequence[str] | None = None,
) -> ContainerChild:
    """The image's command in a new working container, to be started (`Child.start`);
    `credentials` (JSON) are handed over in a file mounted at CREDENTIALS_MOUNT; `command`
    replaces the image's CMD."""
    uid, gid = image_user(image)
    command = list(command) if command else image_command(image)
    container = buildah.new_container(image, f"ib-{name}-{uuid.uuid4().hex[:8]}")
    child = ContainerChild(name=name, command=[], log_path=log_path, container=container)
    try:
        env = dict(env)
        all_mounts = list(mounts)
        if credentials is not None:
            assert secrets_dir is not None
            child.secret_file = _secret_file(secrets_dir, name, credentials, uid, gid)
            all_mounts.append((child.secret_file, CREDENTIALS_MOUNT, True))
            env["IB_CREDENTIALS_FILE"] = CREDENTIALS_MOUNT
        child.command = buildah.run_command(container, command, env=env, mounts=all_mounts)
    except BaseException:
        child.stop()
        raise
    return child


def _secret_file(folder: Path, name: str, content: str, uid: int, gid: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o711)  # the container's user may open the file it knows, list nothing
    path = folder / f"{name}-credentials.json"
    remove_on_exit(path)  # even when this process is killed
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)
    os.chown(path, uid, gid)
    return path
