"""SLA clocks: pure table tests and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.qa.sla import ClockState, SlaPolicy, evaluate, response_clock

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("elapsed_hours", "done_hours", "state"),
    [
        (1, None, ClockState.ON_TRACK),
        (17.99, None, ClockState.ON_TRACK),
        (18, None, ClockState.AT_RISK),
        (24, None, ClockState.AT_RISK),
        (24.01, None, ClockState.BREACHED),
        (30, 23, ClockState.MET),
        (30, 24, ClockState.MET),
        (30, 25, ClockState.BREACHED),
    ],
)
def test_states(elapsed_hours: float, done_hours: float | None, state: ClockState) -> None:
    done = None if done_hours is None else T0 + timedelta(hours=done_hours)
    clock = evaluate(T0, done, DAY, 0.75, T0 + timedelta(hours=elapsed_hours))
    assert clock.state is state
    assert clock.due_at == T0 + DAY


def test_policy_checks_the_fraction() -> None:
    with pytest.raises(
        ValueError, match=r"at_risk_fraction: expected a value between 0 and 1, got 1.5"
    ):
        SlaPolicy(at_risk_fraction=1.5)


@given(st.floats(min_value=0, max_value=200))
def test_an_open_clock_never_reports_met(hours: float) -> None:
    clock = response_clock(SlaPolicy(), T0, None, T0 + timedelta(hours=hours))
    assert clock.state is not ClockState.MET
    assert (clock.state is ClockState.BREACHED) == (hours > 24)
