"""The worker's leaves stay leaves (tests/test_imports.py finds no circle in any package)."""

from __future__ import annotations

from pathlib import Path

from tests.test_imports import graph

WORKER = Path(__file__).resolve().parents[2] / "worker"


def test_the_leaves_import_nothing_of_the_worker():
    edges = graph(("worker",))
    for leaf in ("worker.exceptions", "worker.names"):
        assert edges[leaf] == set(), leaf


def test_the_registries_load_no_plugin_by_name():
    for path in (WORKER / "intent_registry.py", WORKER / "strategies" / "registry.py"):
        text = path.read_text()
        assert "importlib" not in text and "__import__" not in text, path
