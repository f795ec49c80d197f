"""Issue 16 counts: the Firestore reads, writes, commits and transactions and the Pub/Sub
publishes the worker makes per intent kind, counted by wrapping the worker's clients.

An in-process Pipeline (tests/support.py `pipeline`) on the stack's emulators, in a project of
its own (its records, config, holdings and gateway lease start empty), trading against a
simulator with a cash-only account. Its Firestore client's GAPIC layer and its result
publisher's client are replaced by counting proxies, so every call the worker makes through any
path (store, gateway lease, intents, transactions) is seen once:

- reads: documents returned by gets and queries (a get of a missing document and an empty
  query count one each, as Firestore bills them);
- writes: documents written by commits that succeeded (what Firestore bills);
- commits: commit calls, including those a precondition refused;
- transactions: transactions begun;
- publishes: messages published.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from deploy.stack import RESULTS_TOPIC, ROOT, LocalStack

OPERATIONS = ("reads", "writes", "commits", "transactions", "publishes")
KINDS = ("ping", "rejected message", "duplicate", "summary", "allocation with two orders")


class Tally:
    """Operation counts, safe to add to from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(OPERATIONS, 0)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                self._counts[name] += n

    def take(self) -> dict[str, int]:
        """The counts so far, and start again from zero."""
        with self._lock:
            taken, self._counts = self._counts, dict.fromkeys(OPERATIONS, 0)
        return taken


class CountingFirestore:
    """Stands in for a google.cloud.firestore.Client's GAPIC client (`_firestore_api`), which
    every document, batch, query and transaction of that client calls."""

    def __init__(self, api: Any, tally: Tally) -> None:
        self._api = api
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        self._tally.add(commits=1)
        response = self._api.commit(*args, **kwargs)
        self._tally.add(writes=len(response.write_results))
        return response

    def begin_transaction(self, *args: Any, **kwargs: Any) -> Any:
        self._tally.add(transactions=1)
        return self._api.begin_transaction(*args, **kwargs)

    def batch_get_documents(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for response in self._api.batch_get_documents(*args, **kwargs):
            if response.found or response.missing:
                self._tally.add(reads=1)
            yield response

    def run_query(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        found = 0
        for response in self._api.run_query(*args, **kwargs):
            if response.document:
                found += 1
            yield response
        self._tally.add(reads=max(found, 1))

    def run_aggregation_query(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._tally.add(reads=1)
        yield from self._api.run_aggregation_query(*args, **kwargs)


class CountingPublisher:
    """Stands in for a pubsub_v1.PublisherClient."""

    def __init__(self, client: Any, tally: Tally) -> None:
        self._client = client
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        self._tally.add(publishes=1)
        return self._client.publish(*args, **kwargs)


def count_calls(worker: Any) -> Tally:
    """Wrap the clients of a Pipeline built by tests/support.py `pipeline` (its store, gateway
    session and runner share one Database): every later call is counted."""
    tally = Tally()
    client = worker.store.db.client
    client._firestore_api_internal = CountingFirestore(client._firestore_api, tally)
    worker.publisher.__dict__["client"] = CountingPublisher(worker.publisher.client, tally)
    return tally


@dataclass(frozen=True)
class _Kind:
    name: str
    message: Callable[[str], Any]  # intent id -> delivery
    expect: Callable[[Any, Any], bool]  # (answer, simulator) -> what this kind must produce


def _kinds() -> list[_Kind]:
    from tests.support import delivery

    def bad(intent_id: str) -> Any:
        return replace(delivery({"intent": "ping", "id": intent_id}), data=b"not json {")

    def ended(answer: Any, status: str) -> bool:
        return answer.status == 200 and answer.body.get("status") == status

    return [
        _Kind(
            "ping",
            lambda i: delivery({"intent": "ping", "id": i}),
            lambda a, s: ended(a, "succeeded"),
        ),
        _Kind("rejected message", bad, lambda a, s: ended(a, "rejected")),
        # The ping's id again, in a new message, after it ended.
        _Kind(
            "duplicate",
            lambda i: delivery({"intent": "ping", "id": i}),
            lambda a, s: a.body.get("duplicate") is True,
        ),
        _Kind(
            "summary",
            lambda i: delivery({"intent": "summary", "id": i}),
            lambda a, s: ended(a, "succeeded"),
        ),
        _Kind(
            "allocation with two orders",
            lambda i: delivery({"intent": "allocation", "id": i}),
            lambda a, s: ended(a, "succeeded") and len(s.api.broker.orders) == 2,
        ),
    ]


def per_kind(stack: LocalStack) -> dict[str, dict[str, int]]:
    """{kind: {operation: count}} for one delivery of each kind, in the order of KINDS."""
    from google.cloud import firestore, pubsub_v1

    from publisher.trading_config import seed
    from simulator import Simulator
    from simulator.state import load
    from tests.support import pipeline, unique

    project = unique("counts")
    publisher = pubsub_v1.PublisherClient()
    topic = f"projects/{project}/topics/{RESULTS_TOPIC}"
    publisher.create_topic(name=topic)
    seed(firestore.Client(project=project), ROOT / "config.yaml")
    account = load(None)
    account.positions = []  # cash only: the allocation buys SPY and TLT
    counts: dict[str, dict[str, int]] = {}
    quiet = logging.getLogger("worker")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the rejection's warning is expected
    try:
        with Simulator(port=0, seed=3, state=account) as sim:
            worker = pipeline(
                stack,
                GOOGLE_CLOUD_PROJECT=project,
                GATEWAY_MODE="external",
                IB_GATEWAY_PORT=str(sim.port),
                GATEWAY_KEEPALIVE_SECONDS="0",
            )
            try:
                tally = count_calls(worker)
                ping_id = unique("count")
                for kind in _kinds():
                    intent_id = ping_id if kind.name in ("ping", "duplicate") else unique("count")
                    answer = worker.handle(kind.message(intent_id))
                    taken = tally.take()
                    if not kind.expect(answer, sim):
                        raise AssertionError(f"{kind.name}: unexpected answer {answer}")
                    counts[kind.name] = taken
            finally:
                worker.session.close()
    finally:
        quiet.setLevel(level)
        publisher.delete_topic(topic=topic)
    return counts


def table(counts: dict[str, dict[str, int]]) -> str:
    """A Markdown table, as docs/deployment.md's cost section shows it."""
    rows = [["intent kind", *OPERATIONS]] + [
        [kind, *(str(c[op]) for op in OPERATIONS)] for kind, c in counts.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])
