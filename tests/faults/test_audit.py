"""The audit's reading of printed container labels, without a stack."""

from __future__ import annotations

from serialtrace.faults.audit import empty_and_voided, reject_kind


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


def test_a_reject_on_the_unit_s_own_image_for_its_grade_is_not_a_false_reject() -> None:
    assert reject_kind("poor_quality: grade 1.0 below 1.5") == "quality"
    assert reject_kind("wrong_data: serial; read (01)09506000000008(21)X") == "false"
    assert reject_kind("no_read") == "false"  # a frame that was there and did not read
    assert reject_kind("no_read: no frame within 1.5 s") == "unverified"
    assert reject_kind("camera_fault: camera: no frame for 3 units in a row") == "unverified"
    assert reject_kind("verified, but the reject gate had already rejected it (no_verdict)") == (
        "unverified"
    )
