"""Fixtures of the publisher tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_paper_holdings(db):
    """Empty paper holdings and unreconciled orders before the test, whatever an earlier test (of
    any package, in any order) left: an allocation then orders its whole targets."""
    root = db.collection("positions").document("paper")
    for name in ("holdings", "openOrders", "booked"):
        for doc in root.collection(name).list_documents():
            doc.delete()
    return root
