"""The images' figures, when `make images` has built them: the worker image's cold start, from
starting its container to the first 200 on `/` (a pushed ping), next to the same worker started
from the source tree; and the gateway's start inside the worker image (the `ibc` launcher with
Xvfb and the stand-in IBC, to the API port accepting), next to the simulator launcher on the host
with the same 1 s login delay."""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.report import Figure, median
from deploy.images import checks
from deploy.images.build import WORKER_IMAGE
from deploy.processes import Child, free_port
from deploy.stack import ROOT, WORKER_COMMAND, LocalStack
from tests.support import envelope, unique
from worker.gateway.launchers import SimulatorLauncher
from worker.settings import Settings

LOGIN_DELAY = "1"  # the stand-in java's default SIMULATOR_BOOT_DELAY


def _answers_200(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        body = json.dumps(envelope({"intent": "ping", "id": unique("cold")})).encode()
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    return probe


def _source_start(stack: LocalStack, log: Path) -> float:
    env = {**stack.worker_environment(), "PORT": str(port := free_port())}
    child = Child("cold-source", [sys.executable, *WORKER_COMMAND[1:]], log, env=env, cwd=ROOT)
    started = time.monotonic()
    child.start()
    try:
        child.wait_until(_answers_200(f"http://127.0.0.1:{port}/"), 60, "answering 200")
        return time.monotonic() - started
    finally:
        child.stop()


def _image_start(stack: LocalStack, log: Path) -> float:
    env = {**stack.worker_environment(), "PORT": str(port := free_port()), "GATEWAY_MODE": "ibc"}
    for host_path in ("SIMULATOR_STATE", "SIMULATOR_PERSIST"):
        env.pop(host_path, None)
    return checks.cold_start(WORKER_IMAGE, env, log, _answers_200(f"http://127.0.0.1:{port}/"))


def cold_start(stack: LocalStack, runs: int = 3) -> Figure:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        image = median([_image_start(stack, Path(tmp) / f"image{n}.log") for n in range(runs)])
        source = median([_source_start(stack, Path(tmp) / f"src{n}.log") for n in range(runs)])
    return Figure(
        f"worker image cold start to the first 200, median of {runs}",
        image,
        "s",
        3,
        baseline=source,
        baseline_name="the same worker from the source tree",
    )


def _host_launcher_start() -> float:
    port = free_port()
    settings = Settings.from_env(
        {"GATEWAY_MODE": "simulator", "IB_GATEWAY_PORT": str(port), "SIMULATOR_BOOT_DELAY": "1"}
    )
    launcher = SimulatorLauncher(settings)
    started = time.monotonic()
    launcher.start()
    try:
        while time.monotonic() - started < 60:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return time.monotonic() - started
            except OSError:
                time.sleep(0.02)
        raise TimeoutError("the simulator launcher did not open its port in 60 s")
    finally:
        launcher.stop()


def gateway_start(runs: int = 3) -> Figure:
    probes = [checks.gateway_start_stop(WORKER_IMAGE) for _ in range(runs)]
    failed = [p for p in probes if not p.ready or p.left or p.files_with_password]
    if failed:
        raise RuntimeError(f"the in-image gateway probe failed: {failed[0]}")
    image = median([p.ready_seconds or 0.0 for p in probes])
    host = median([_host_launcher_start() for _ in range(runs)])
    return Figure(
        f"gateway start in the worker image (ibc, Xvfb, stand-in IBC), median of {runs}",
        image,
        "s",
        5,
        baseline=host,
        baseline_name="simulator launcher on the host",
    )


def run(stack: LocalStack) -> list[Figure]:
    missing = checks.images_present(WORKER_IMAGE)
    if missing:
        print(f"images not built ({', '.join(missing)}): `make images` first", file=sys.stderr)
        return []
    return [cold_start(stack), gateway_start()]
