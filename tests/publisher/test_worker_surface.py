"""The publisher and the dashboard depend on a small public surface of the worker, never on its
internals (the store, the trading code, the pipeline): a static check over their imports, every
import statement counted (top level, in functions, under TYPE_CHECKING)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The worker's modules meant for other packages, each with what they share.
PUBLIC = {
    "worker.database": "the Firestore layer: Database, StoreUnavailable, record_key, TERMINAL",
    "worker.database.deadlines": "every Firestore deadline",
    "worker.database.layout": "an intent record's key and statuses",
    "worker.config_rules": "the trading config's merge and checks",
    "worker.exceptions": "the errors every layer shares (a leaf)",
    "worker.names": "deployed names and topics (a leaf)",
    "worker.message": "the message contract: validate, intent names, the id pattern",
    "worker.cron": "Cloud Scheduler's cron, as the watch intent reads it",
    "worker.alert_formats": "the alert formats the notifier and the worker share",
    "worker.alert_send": "the alert sender the notifier and the worker share",
    "worker.delivery": "decoding a Pub/Sub push (the notifier's push endpoint)",
    "worker.gateway.restarts": "the gateway's restart calendar (schedules apply warns)",
}


def _worker_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every import of the worker in one file."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if _worker(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "worker":
                found += [(node.lineno, f"worker.{a.name}", None) for a in node.names]
            elif _worker(node.module):
                found += [(node.lineno, node.module, a.name) for a in node.names]
    return sorted(found, key=lambda f: f[0])


def _worker(module: str) -> bool:
    return module == "worker" or module.startswith("worker.")


def _private(module: str, name: str | None) -> str | None:
    """Why this import reaches into the worker's internals, or None when it does not."""
    if module not in PUBLIC:
        return f"{module} is not one of the worker's public modules"
    if name is not None and name.startswith("_"):
        return f"{module}.{name} is private"
    return None


def _offences(package: str) -> list[str]:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module, name in _worker_imports(path):
            why = _private(module, name)
            if why:
                offences.append(f"{path.relative_to(ROOT)}:{line}: {why}")
    return offences


def test_the_publisher_imports_nothing_private_from_the_worker() -> None:
    assert _offences("publisher") == []


def test_the_dashboard_imports_nothing_private_from_the_worker() -> None:
    assert _offences("dashboard") == []


def test_the_public_modules_exist() -> None:
    for module in PUBLIC:
        parts = module.split(".")
        assert (ROOT.joinpath(*parts).with_suffix(".py")).exists() or (
            ROOT.joinpath(*parts) / "__init__.py"
        ).exists(), module


def test_an_internal_or_private_import_would_be_found(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text(
        "from worker.store import TERMINAL\n"
        "import worker.trading.config\n"
        "from worker import pipeline\n"
        "from worker.database import _first\n"
        "def later():\n"
        "    from worker.intent_records import record_key\n"
        "from worker.database import record_key\n"
    )
    found = [_private(module, name) for _, module, name in _worker_imports(source)]
    assert found == [
        "worker.store is not one of the worker's public modules",
        "worker.trading.config is not one of the worker's public modules",
        "worker.pipeline is not one of the worker's public modules",
        "worker.database._first is private",
        "worker.intent_records is not one of the worker's public modules",
        None,
    ]
