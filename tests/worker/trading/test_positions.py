"""Positions as IB reports them when asked (reqPositions): accounts added up, closed ones out."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from worker.trading.positions import SOURCE, held, read

rows = st.lists(
    st.tuples(st.sampled_from([756733, 15547841, 12087820]), st.integers(-500, 500)), max_size=12
)


def position(con_id: int, quantity: float) -> SimpleNamespace:
    return SimpleNamespace(contract=SimpleNamespace(conId=con_id), position=quantity)


@given(rows)
def test_every_contract_is_the_sum_of_its_rows_and_none_is_zero(found):
    totals = held(position(c, q) for c, q in found)
    assert all(q != 0 for q in totals.values())
    for con_id in {c for c, _ in found}:
        assert totals.get(con_id, 0) == sum(q for c, q in found if c == con_id)


def test_a_position_closed_today_is_not_held_and_the_source_is_named():
    class IB:
        def reqPositions(self):
            return [position(756733, 0.0), position(15547841, 50.0)]

    assert read(IB()) == ({15547841: 50.0}, SOURCE) and SOURCE == "reqPositions"
