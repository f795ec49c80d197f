"""Fixtures of the gateway tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.gateway.ibc_standin import make_ibc_home


@pytest.fixture
def ibc_home(tmp_path: Path) -> Path:
    """An IBC-shaped folder whose ibcstart.sh is the stand-in (tests/worker/gateway/ibc_standin)."""
    return make_ibc_home(tmp_path)
