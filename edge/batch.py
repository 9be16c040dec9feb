"""Batch lifecycle and reconciliation: pure rules, no I/O.

A batch (one GTIN, one lot) moves through::

    running ──pause──> paused ──resume──> running
       │                  │
       └──stop──> stopped <┘ ──resume──> running
                     │
                     └──close (only when reconciled)──> closed

Units move through the OPEN-SCS serial states::

    allocated ──> encoded ──> commissioned ──> sampled | decommissioned
        │            │
        │            └──> rejected | scrapped
        ├──> scrapped (print fault, or the agent restarted before the label was confirmed)
        └──> voided   (never sent to the printer: the line had stopped)

``allocated`` and ``encoded`` are in flight; every other state is final for the batch.
Reconciliation at close: labels printed = commissioned + rejected + sampled + scrapped, where a
decommissioned unit counts as scrapped (it was commissioned, then taken out of the supply
chain), a voided serial was never printed (it counts nowhere, and is never used again) and a
unit still in flight makes the close impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.errors import BatchStateError


class BatchState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    CLOSED = "closed"


class BatchAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    CLOSE = "close"


_TRANSITIONS: dict[tuple[BatchState, BatchAction], BatchState] = {
    (BatchState.RUNNING, BatchAction.PAUSE): BatchState.PAUSED,
    (BatchState.RUNNING, BatchAction.STOP): BatchState.STOPPED,
    (BatchState.PAUSED, BatchAction.RESUME): BatchState.RUNNING,
    (BatchState.PAUSED, BatchAction.STOP): BatchState.STOPPED,
    (BatchState.STOPPED, BatchAction.RESUME): BatchState.RUNNING,
    (BatchState.STOPPED, BatchAction.CLOSE): BatchState.CLOSED,
}


def next_state(batch_id: str, state: BatchState, action: BatchAction) -> BatchState:
    """The state after ``action``, or BatchStateError naming what was allowed."""
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        allowed = sorted(a.value for (s, a) in _TRANSITIONS if s is state)
        expected = ", ".join(allowed) if allowed else "nothing (the batch is closed)"
        raise BatchStateError(
            f"batch {batch_id!r}: cannot {action.value} a {state.value} batch; "
            f"expected one of: {expected}"
        ) from None


class UnitState(StrEnum):
    ALLOCATED = "allocated"
    ENCODED = "encoded"
    COMMISSIONED = "commissioned"
    REJECTED = "rejected"
    SAMPLED = "sampled"
    SCRAPPED = "scrapped"
    DECOMMISSIONED = "decommissioned"
    VOIDED = "voided"


IN_FLIGHT: frozenset[UnitState] = frozenset({UnitState.ALLOCATED, UnitState.ENCODED})

_UNIT_TRANSITIONS: dict[UnitState, frozenset[UnitState]] = {
    UnitState.ALLOCATED: frozenset({UnitState.ENCODED, UnitState.SCRAPPED, UnitState.VOIDED}),
    UnitState.ENCODED: frozenset({UnitState.COMMISSIONED, UnitState.REJECTED, UnitState.SCRAPPED}),
    UnitState.COMMISSIONED: frozenset({UnitState.SAMPLED, UnitState.DECOMMISSIONED}),
    UnitState.REJECTED: frozenset(),
    UnitState.SAMPLED: frozenset(),
    UnitState.SCRAPPED: frozenset(),
    UnitState.DECOMMISSIONED: frozenset(),
    UnitState.VOIDED: frozenset(),
}


def check_unit_transition(serial: str, old: UnitState, new: UnitState) -> None:
    """Raise BatchStateError if a unit may not go from ``old`` to ``new``."""
    if new not in _UNIT_TRANSITIONS[old]:
        allowed = ", ".join(sorted(s.value for s in _UNIT_TRANSITIONS[old])) or "nothing"
        raise BatchStateError(
            f"unit {serial!r}: cannot go from {old.value} to {new.value}; "
            f"expected one of: {allowed}"
        )


@dataclass(frozen=True)
class Reconciliation:
    """The counts that must balance at batch close."""

    printed: int
    commissioned: int
    rejected: int
    sampled: int
    scrapped: int
    in_flight: int

    @classmethod
    def from_counts(cls, printed: int, counts: dict[UnitState, int]) -> Reconciliation:
        """Build from the labels-printed counter and the number of units in each state."""
        return cls(
            printed=printed,
            commissioned=counts.get(UnitState.COMMISSIONED, 0),
            rejected=counts.get(UnitState.REJECTED, 0),
            sampled=counts.get(UnitState.SAMPLED, 0),
            scrapped=counts.get(UnitState.SCRAPPED, 0) + counts.get(UnitState.DECOMMISSIONED, 0),
            in_flight=sum(counts.get(state, 0) for state in IN_FLIGHT),
        )

    @property
    def accounted(self) -> int:
        return self.commissioned + self.rejected + self.sampled + self.scrapped

    @property
    def difference(self) -> int:
        """Labels printed minus labels accounted for: zero when the batch balances."""
        return self.printed - self.accounted

    @property
    def balanced(self) -> bool:
        return self.difference == 0 and self.in_flight == 0

    def explain(self) -> str:
        """One line: the equation with its numbers, and what is off."""
        text = (
            f"printed {self.printed} = commissioned {self.commissioned} + rejected "
            f"{self.rejected} + sampled {self.sampled} + scrapped {self.scrapped}"
        )
        if self.balanced:
            return text + " (balanced)"
        problems = []
        if self.difference:
            problems.append(f"difference {self.difference:+d}")
        if self.in_flight:
            problems.append(f"{self.in_flight} units still in flight")
        return f"{text} does not balance: {', '.join(problems)}"

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "printed": self.printed,
            "commissioned": self.commissioned,
            "rejected": self.rejected,
            "sampled": self.sampled,
            "scrapped": self.scrapped,
            "in_flight": self.in_flight,
            "difference": self.difference,
            "balanced": self.balanced,
        }
