"""What the image checks and `make bench` measure in the images: the gateway started and stopped
inside the worker image (`gateway_probe.py`), and the worker image's cold start."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.images import buildah, container
from deploy.processes import StackError, free_port

PROBE = Path(__file__).resolve().with_name("gateway_probe.py")


@dataclass(frozen=True)
class GatewayProbe:
    ready: bool
    ready_seconds: float | None
    failure: str | None
    started: list[dict[str, object]]
    left: list[dict[str, object]]
    files_with_password: list[str]
    log: str  # what the container printed besides the report


def gateway_start_stop(image: str, timeout: float = 180) -> GatewayProbe:
    """Run gateway_probe.py in a new container of `image` with stand-in credentials."""
    with tempfile.TemporaryDirectory(prefix="gateway-probe-") as tmp:
        env = {"GATEWAY_MODE": "ibc", "IB_GATEWAY_PORT": str(free_port()), "PYTHONPATH": "/app"}
        child = container.prepare(
            "gateway-probe",
            image,
            env,
            Path(tmp) / "probe.log",
            mounts=[(PROBE, "/run/probe/gateway_probe.py", True)],
            credentials=container.fake_credentials(),
            secrets_dir=Path(tmp) / "secrets",
        )
        run = list(child.command)
        child.command = [*run[: run.index("--") + 1], "python", "/run/probe/gateway_probe.py"]
        try:
            child.start()
            assert child.proc is not None
            try:
                child.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise StackError(f"the gateway probe did not finish in {timeout:.0f} s") from None
        finally:
            child.stop()
        output = (Path(tmp) / "probe.log").read_text(errors="replace")
    lines = output.splitlines()
    reports = [line for line in lines if line.startswith('{"ready"')]
    if not reports:
        raise StackError(f"the gateway probe printed no report:\n{output[-3000:]}")
    data = json.loads(reports[-1])
    rest = "\n".join(line for line in lines if line is not reports[-1])
    return GatewayProbe(log=rest, **data)


def cold_start(image: str, env: dict[str, str], log: Path, ready: Callable[[], bool]) -> float:
    """Seconds from starting a container of `image` to `ready()` holding (e.g. the first 200)."""
    child = container.prepare("cold-start", image, env, log)
    started = time.monotonic()
    child.start()
    try:
        child.wait_until(ready, 60, "ready")
        return time.monotonic() - started
    finally:
        child.stop()


def images_present(*refs: str) -> list[str]:
    """The refs of `refs` that are not built."""
    return [ref for ref in refs if buildah.inspect(ref) is None]
