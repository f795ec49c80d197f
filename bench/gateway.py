"""Issue 4 figures: readiness overhead after a boot, and a burst with keep-warm vs without."""

from __future__ import annotations

import logging
import time

from bench.report import Figure, median
from deploy.processes import free_port
from deploy.stack import LocalStack
from simulator import Simulator
from tests.support import delivery, pipeline, unique
from worker.gateway.connect import connect
from worker.gateway.launchers import Launcher
from worker.settings import Settings

BOOT = 1.0


def _anchor_connect(host: str, port: int) -> None:
    """jsarbach/ib-trading's way: try, and sleep 5 s after every failure (ib_async's two error
    lines per refused try silenced, so that the bench's output stays readable)."""
    import ib_async

    client_log = logging.getLogger("ib_async.client")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        while True:
            ib = ib_async.IB()
            try:
                ib.connect(host, port, clientId=1, timeout=5)
                ib.disconnect()
                return
            except (OSError, TimeoutError):
                time.sleep(5)
    finally:
        client_log.setLevel(level)


def _ours(host: str, port: int) -> None:
    launcher = Launcher(Settings.from_env({"IB_GATEWAY_HOST": host, "IB_GATEWAY_PORT": str(port)}))
    connect(launcher, client_id=1, timeout=30).disconnect()


def _overhead(way, runs: int) -> list[float]:
    overheads = []
    for _ in range(runs):
        sim = Simulator(port=free_port(), boot_delay=BOOT)
        sim.start(wait=False)
        try:
            way("127.0.0.1", sim.port)
            assert sim.ready_at is not None, "the simulator said it was ready"
            overheads.append((time.monotonic() - sim.ready_at) * 1000)
        finally:
            sim.stop()
    return overheads


def readiness(runs: int = 10) -> Figure:
    ours = median(_overhead(_ours, runs))
    anchor = median(_overhead(_anchor_connect, runs))
    return Figure(
        f"session ready after the port opens, median of {runs}",
        ours,
        "ms",
        250,
        baseline=anchor,
        baseline_name="5 s polling loop",
    )


def burst(stack: LocalStack, count: int = 10, boot: float = 3.0) -> Figure:
    def run(**env: str) -> float:
        worker = pipeline(stack, SIMULATOR_BOOT_DELAY=str(boot), **env)
        t0 = time.perf_counter()
        try:
            for _ in range(count):
                answer = worker.handle(delivery({"intent": "summary", "id": unique("burst")}))
                assert answer.status == 200 and answer.body["status"] == "succeeded", answer
        finally:
            worker.session.close()
        return time.perf_counter() - t0

    warm = run(GATEWAY_KEEPALIVE_SECONDS="60")
    fresh = run(GATEWAY_KEEPALIVE_SECONDS="0")
    return Figure(
        f"{count} summaries, {boot:g} s boot, keep-warm on",
        warm,
        "s",
        fresh / 5,
        baseline=fresh,
        baseline_name="a fresh gateway per intent",
    )


def run(stack: LocalStack) -> list[Figure]:
    return [readiness(), burst(stack)]
