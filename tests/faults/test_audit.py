"""The audit's reading of printed container labels, without a stack."""

from __future__ import annotations

from serialtrace.faults.audit import empty_and_voided


def test_a_voided_label_is_not_an_empty_case_and_an_unvoided_or_unknown_one_is() -> None:
    containers = {
        "A": ("case", "P", 10, "closed"),  # a full case
        "V": ("case", None, 0, "scrapped"),  # a label attempt the agent was killed in
        "E": ("case", "P", 0, "closed"),  # closed with nothing in it
        "P": ("pallet", None, 1, "closed"),
    }
    empty, voided = empty_and_voided(["A", "V", "E", "P", "X", "V"], containers)
    assert empty == ["E", "X"]  # "X": printed, and the agent has no record of it
    assert voided == ["V"]
