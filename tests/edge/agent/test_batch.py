"""Batch and unit state rules, and reconciliation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.batch import (
    BatchAction,
    BatchState,
    Reconciliation,
    UnitState,
    check_unit_transition,
    next_state,
)
from edge.errors import BatchStateError


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        (BatchState.RUNNING, BatchAction.PAUSE, BatchState.PAUSED),
        (BatchState.RUNNING, BatchAction.STOP, BatchState.STOPPED),
        (BatchState.PAUSED, BatchAction.RESUME, BatchState.RUNNING),
        (BatchState.PAUSED, BatchAction.STOP, BatchState.STOPPED),
        (BatchState.STOPPED, BatchAction.RESUME, BatchState.RUNNING),
        (BatchState.STOPPED, BatchAction.CLOSE, BatchState.CLOSED),
    ],
)
def test_allowed_transitions(state: BatchState, action: BatchAction, expected: BatchState) -> None:
    assert next_state("L1", state, action) is expected


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (
            BatchState.RUNNING,
            BatchAction.CLOSE,
            "batch 'L1': cannot close a running batch; expected one of: pause, stop",
        ),
        (
            BatchState.RUNNING,
            BatchAction.RESUME,
            "batch 'L1': cannot resume a running batch; expected one of: pause, stop",
        ),
        (
            BatchState.PAUSED,
            BatchAction.CLOSE,
            "batch 'L1': cannot close a paused batch; expected one of: resume, stop",
        ),
        (
            BatchState.CLOSED,
            BatchAction.RESUME,
            "batch 'L1': cannot resume a closed batch; expected one of: nothing (the batch is "
            "closed)",
        ),
    ],
)
def test_refused_transitions_say_what_is_allowed(
    state: BatchState, action: BatchAction, message: str
) -> None:
    with pytest.raises(BatchStateError) as caught:
        next_state("L1", state, action)
    assert str(caught.value) == message


def test_unit_lifecycle() -> None:
    check_unit_transition("S1", UnitState.ALLOCATED, UnitState.ENCODED)
    check_unit_transition("S1", UnitState.ENCODED, UnitState.COMMISSIONED)
    check_unit_transition("S1", UnitState.COMMISSIONED, UnitState.SAMPLED)
    with pytest.raises(BatchStateError) as caught:
        check_unit_transition("S1", UnitState.ALLOCATED, UnitState.COMMISSIONED)
    assert str(caught.value) == (
        "unit 'S1': cannot go from allocated to commissioned; expected one of: encoded, "
        "scrapped, voided"
    )
    with pytest.raises(BatchStateError, match="expected one of: nothing"):
        check_unit_transition("S1", UnitState.SCRAPPED, UnitState.COMMISSIONED)


@given(st.lists(st.sampled_from(list(UnitState)), max_size=200))
def test_reconciliation_balances_exactly_when_every_printed_unit_is_final(
    states: list[UnitState],
) -> None:
    counts: dict[UnitState, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    in_flight = counts.get(UnitState.ALLOCATED, 0) + counts.get(UnitState.ENCODED, 0)
    voided = counts.get(UnitState.VOIDED, 0)
    printed = len(states) - counts.get(UnitState.ALLOCATED, 0) - voided
    result = Reconciliation.from_counts(printed, counts)
    assert result.in_flight == in_flight
    assert result.accounted == len(states) - in_flight - voided
    assert result.balanced == (in_flight == 0)
    assert result.difference == counts.get(UnitState.ENCODED, 0)


def test_explain_shows_the_numbers() -> None:
    ok = Reconciliation(10, 7, 2, 1, 0, 0)
    assert ok.explain() == (
        "printed 10 = commissioned 7 + rejected 2 + sampled 1 + scrapped 0 (balanced)"
    )
    off = Reconciliation(10, 7, 1, 0, 0, 2)
    assert off.explain() == (
        "printed 10 = commissioned 7 + rejected 1 + sampled 0 + scrapped 0 does not balance: "
        "difference +2, 2 units still in flight"
    )
    assert off.as_dict()["balanced"] is False
