"""Issue 2 figures: worker overhead per ping, import time, rejection throughput."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.report import Figure, median, percentile
from deploy.stack import ROOT, LocalStack
from tests.support import envelope, post, unique

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


def ping_overhead(stack: LocalStack, count: int = 200) -> list[Figure]:
    for _ in range(5):  # first deliveries create the clients
        post(stack, envelope({"intent": "ping"}))
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        status, body = post(stack, envelope({"intent": "ping", "id": unique("bench")}))
        times.append((time.perf_counter() - t0) * 1000)
        assert status == 200 and body["status"] == "succeeded", body
    return [
        Figure(f"ping round trip, median of {count}", median(times), "ms", 50),
        Figure(f"ping round trip, p95 of {count}", percentile(times, 95), "ms", 100),
    ]


def rejection_throughput(stack: LocalStack, count: int = 400) -> Figure:
    bodies = [envelope(b"not json {", message_id=unique("rej")) for _ in range(count)]
    t0 = time.perf_counter()
    # The worker serves one request at a time (1 worker, 1 thread); a few client threads keep
    # the next request queued so the figure is the worker's rate, not the client's latency.
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda b: post(stack, b), bodies))
    elapsed = time.perf_counter() - t0
    assert all(status == 200 and a["status"] == "rejected" for status, a in answers), answers[:3]
    return Figure(
        "rejection throughput", count / elapsed, "deliveries/s", 200, higher_is_better=True
    )


def run(stack: LocalStack) -> list[Figure]:
    return [*ping_overhead(stack), rejection_throughput(stack), import_time()]


if __name__ == "__main__":
    print(json.dumps([f.row() for f in run(LocalStack().start())]))
