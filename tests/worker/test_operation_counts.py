"""Firestore and Pub/Sub operations per intent kind never rise above the documented budget (the
table in docs/deployment.md's "What it costs"), counted by wrapping the worker's clients
(bench/counts.py, the code `make bench` prints its table with)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.counts import KINDS, OPERATIONS, CountingFirestore, CountingPublisher, Tally, per_kind
from bench.counts import table as counts_table
from tests.support import unique

COSTS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"

# The budget: what each kind costs today. Lower a number when a change saves an operation (and
# the table in docs/deployment.md with it); a change that needs more is a decision for that page
# too.
BUDGET = {
    "ping": {"reads": 0, "writes": 6, "commits": 2, "transactions": 0, "publishes": 1},
    "rejected message": {"reads": 0, "writes": 3, "commits": 1, "transactions": 0, "publishes": 1},
    "duplicate": {"reads": 1, "writes": 2, "commits": 2, "transactions": 0, "publishes": 0},
    "summary": {"reads": 2, "writes": 10, "commits": 6, "transactions": 0, "publishes": 1},
    "allocation with two orders": {
        "reads": 10,
        "writes": 21,
        "commits": 13,
        "transactions": 1,
        "publishes": 1,
    },
}


@pytest.fixture(scope="module")
def counted(stack) -> dict[str, dict[str, int]]:
    return per_kind(stack)


def test_every_kind_is_counted(counted):
    assert list(counted) == list(KINDS) == list(BUDGET)
    assert all(list(c) == list(OPERATIONS) for c in counted.values())


@pytest.mark.parametrize("kind", KINDS)
def test_operations_never_rise_above_the_budget(counted, kind):
    over = {op: (n, BUDGET[kind][op]) for op, n in counted[kind].items() if n > BUDGET[kind][op]}
    assert not over, f"{kind} costs more than its budget (counted, budget): {over}"


def test_a_rejected_message_costs_at_most_one_commit_and_one_publish(counted):
    rejected = counted["rejected message"]
    assert rejected["commits"] <= 1 and rejected["publishes"] <= 1
    assert rejected["reads"] == rejected["transactions"] == 0


def test_the_counts_see_the_work_of_each_kind(counted):
    """Not vacuous: every kind that ends writes its record and publishes one result; a duplicate
    reads the record it found and publishes nothing; orders go through a transaction."""
    for kind in ("ping", "rejected message", "summary", "allocation with two orders"):
        assert counted[kind]["publishes"] == 1 and counted[kind]["writes"] >= 3, kind
    assert counted["duplicate"]["publishes"] == 0 and counted["duplicate"]["reads"] >= 1
    assert counted["allocation with two orders"]["transactions"] >= 1


def test_the_cost_page_shows_the_budget():
    assert counts_table(BUDGET) in COSTS_PAGE.read_text()


def test_the_counting_clients_count_each_call(stack):
    """The proxies on the emulators: what each call counts."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import firestore, pubsub_v1

    tally = Tally()
    client = firestore.Client(project=stack.options.project)
    client._firestore_api_internal = CountingFirestore(client._firestore_api, tally)
    ref = client.collection("countingTest").document(unique("doc"))
    batch = client.batch()
    batch.create(ref, {"n": 1})
    batch.create(ref.collection("events").document(), {"n": 2})
    batch.commit()
    assert tally.take() == {**_zero(), "commits": 1, "writes": 2}
    with pytest.raises(AlreadyExists):
        ref.create({"n": 3})
    assert tally.take() == {**_zero(), "commits": 1}  # refused: nothing written
    assert ref.get().exists and not ref.parent.document(unique("missing")).get().exists
    assert tally.take() == {**_zero(), "reads": 2}  # a missing document is a read too
    assert list(ref.collection("nothing").stream()) == []
    assert tally.take() == {**_zero(), "reads": 1}  # an empty query is a read

    @firestore.transactional
    def bump(transaction):
        snap = ref.get(transaction=transaction)
        transaction.update(ref, {"n": snap.get("n") + 1})

    bump(client.transaction())
    assert tally.take() == {**_zero(), "transactions": 1, "reads": 1, "commits": 1, "writes": 1}
    publisher = CountingPublisher(pubsub_v1.PublisherClient(), tally)
    topic = stack.topic(unique("counting-test"))  # of its own: no subscriber sees the message
    publisher.create_topic(name=topic)
    try:
        publisher.publish(topic, b"{}").result(timeout=30)
    finally:
        publisher.delete_topic(topic=topic)
    assert tally.take() == {**_zero(), "publishes": 1}


def _zero() -> dict[str, int]:
    return dict.fromkeys(OPERATIONS, 0)


def test_the_table_is_markdown():
    lines = counts_table(BUDGET).splitlines()
    assert re.fullmatch(r"\| intent kind +\| reads +\| writes +\| commits +\|.*", lines[0])
    assert set(lines[1]) <= {"|", "-"} and len(lines) == 2 + len(BUDGET)
