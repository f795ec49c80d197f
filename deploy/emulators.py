"""The Pub/Sub and Firestore emulators from the gcloud CLI, bound to 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from deploy.processes import Child, StackError, http_answers

INSTALL_HINT = """\
The local stack needs the gcloud CLI with the Pub/Sub and Firestore emulators, and Java 17+.
  Debian/Ubuntu (with Google's apt repository configured):
    sudo apt-get install google-cloud-cli google-cloud-cli-pubsub-emulator \\
        google-cloud-cli-firestore-emulator openjdk-17-jre-headless
  With a gcloud CLI installed from Google's archive:
    gcloud components install beta pubsub-emulator cloud-firestore-emulator
  See https://cloud.google.com/sdk/docs/install"""


class PrerequisiteMissing(StackError):
    """A tool the local stack needs is not installed."""


@cache
def sdk_root() -> Path:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise PrerequisiteMissing(f"gcloud is not on PATH.\n{INSTALL_HINT}")
    try:
        out = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as exc:
        raise PrerequisiteMissing(f"`gcloud info` failed ({exc}).\n{INSTALL_HINT}") from None
    return Path(out)


def check_prerequisites() -> None:
    """Raise PrerequisiteMissing with the install command when anything is missing."""
    if shutil.which("java") is None:
        raise PrerequisiteMissing(
            f"java is not on PATH (the emulators run on Java).\n{INSTALL_HINT}"
        )
    root = sdk_root()
    missing = [
        name
        for name, folder in (
            ("pubsub-emulator", "pubsub-emulator"),
            ("cloud-firestore-emulator", "cloud-firestore-emulator"),
        )
        if not (root / "platform" / folder).is_dir()
    ]
    if missing:
        raise PrerequisiteMissing(
            f"gcloud components missing: {', '.join(missing)}.\n{INSTALL_HINT}"
        )


def pubsub(port: int, project: str, log_dir: Path) -> Child:
    return Child(
        name="Pub/Sub emulator",
        command=[
            "gcloud",
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port=127.0.0.1:{port}",
            f"--project={project}",
            "--quiet",
        ],
        log_path=log_dir / "pubsub-emulator.log",
    )


def firestore(port: int, log_dir: Path) -> Child:
    return Child(
        name="Firestore emulator",
        command=[
            "gcloud",
            "emulators",
            "firestore",
            "start",
            f"--host-port=127.0.0.1:{port}",
            "--quiet",
        ],
        log_path=log_dir / "firestore-emulator.log",
    )


def wait_ready(child: Child, port: int, timeout: float = 90.0) -> None:
    # Both emulators answer "Ok" on their HTTP root once they accept requests.
    child.wait_until(http_answers(f"http://127.0.0.1:{port}/", expect="Ok"), timeout, "ready")
