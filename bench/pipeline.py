"""Issue 2 and 16 figures: ping round trip and rejection throughput, each next to its floor
(bench/floor.py), and import time."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from bench.floor import Floor
from bench.report import Figure, median, percentile
from deploy.stack import ROOT, LocalStack
from tests.support import envelope, unique

EAGER_IMPORTS = (  # what jsarbach/ib-trading imports at module load
    "import google.cloud.firestore, google.cloud.pubsub_v1, google.cloud.secretmanager, "
    "ib_async, functions_framework"
)


def _import_seconds(statement: str, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
        times.append(time.perf_counter() - t0)
    return median(times)


def import_time() -> Figure:
    baseline = _import_seconds("pass")
    ours = _import_seconds("import worker.main") - baseline
    eager = _import_seconds(EAGER_IMPORTS) - baseline
    return Figure(
        "import of the worker entry point",
        ours * 1000,
        "ms",
        1000,
        baseline=eager * 1000,
        baseline_name="eager Google clients + ib_async",
    )


def _post(stack: LocalStack, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST a delivery on a connection of its own (the worker closes each) with http.client:
    lighter than urllib, so that the client takes less of the machine the worker shares."""
    url = urlsplit(stack.worker_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        conn.request("POST", "/", body=json.dumps(data).encode(), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _ping(stack: LocalStack) -> float:
    t0 = time.perf_counter()
    status, body = _post(stack, envelope({"intent": "ping", "id": unique("bench")}))
    elapsed = (time.perf_counter() - t0) * 1000
    assert status == 200 and body["status"] == "succeeded", body
    return elapsed


def ping_overhead(stack: LocalStack, floor: Floor, count: int = 200) -> list[Figure]:
    """Pings through the worker's HTTP endpoint, each next to the floor's operations (in turn,
    so that both see the same load of a shared machine)."""
    for _ in range(5):  # first deliveries create the clients
        _ping(stack)
        floor.ping()
    times, floors = [], []
    for _ in range(count):
        times.append(_ping(stack))
        floors.append(floor.ping())
    ratio = median(times) / median(floors)
    return [
        Figure(
            f"ping round trip, median of {count}",
            median(times),
            "ms",
            50,
            baseline=median(floors),
            baseline_name="floor: create, publish, update",
        ),
        Figure(f"ping round trip, p95 of {count}", percentile(times, 95), "ms", 100),
        Figure(
            "ping round trip vs floor (worker median / floor median)",
            ratio,
            "x",
            1.5,
            headline=f"ping round trip vs floor: ratio {ratio:.2f}",
        ),
    ]


def _rejections(stack: LocalStack, count: int) -> float:
    """Seconds for the worker to answer `count` malformed deliveries."""
    bodies = [envelope(b"not json {", message_id=unique("rej")) for _ in range(count)]
    t0 = time.perf_counter()
    # The worker serves one request at a time (1 worker, 1 thread); a few client threads keep
    # the next request queued so the figure is the worker's rate, not the client's latency.
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda b: _post(stack, b), bodies))
    elapsed = time.perf_counter() - t0
    assert all(status == 200 and a["status"] == "rejected" for status, a in answers), answers[:3]
    return elapsed


def _floor_rejections(floor: Floor, count: int) -> float:
    """Seconds for the floor of `count` rejections, one after another as the worker runs them."""
    t0 = time.perf_counter()
    for _ in range(count):
        floor.rejection()
    return time.perf_counter() - t0


def rejection_throughput(
    stack: LocalStack, floor: Floor, count: int = 400, rounds: int = 8
) -> list[Figure]:
    """`count` rejections through the worker and `count` floors, in `rounds` alternating turns;
    the ratio is the median of the turns' ratios (a turn the machine was busier for does not
    decide it)."""
    _rejections(stack, 10)
    _floor_rejections(floor, 10)
    turns = [
        (_rejections(stack, count // rounds), _floor_rejections(floor, count // rounds))
        for _ in range(rounds)
    ]
    worker, direct = sum(w for w, _ in turns), sum(f for _, f in turns)
    ours, floor_rate = count / worker, count / direct
    ratio = median([f / w for w, f in turns])
    return [
        Figure(
            "rejection throughput",
            ours,
            "deliveries/s",
            200,
            higher_is_better=True,
            baseline=floor_rate,
            baseline_name="floor: publish, commit",
            # The emulators' own floor here is 50-82/s: the ratio below is what is judged.
            judged=False,
        ),
        Figure(
            "rejection throughput vs floor (worker / floor)",
            ratio,
            "x",
            0.7,
            higher_is_better=True,
            headline=f"rejection throughput vs floor: ratio {ratio:.2f}",
        ),
    ]


def run(stack: LocalStack) -> list[Figure]:
    with Floor(stack) as floor:
        return [*ping_overhead(stack, floor), *rejection_throughput(stack, floor), import_time()]
