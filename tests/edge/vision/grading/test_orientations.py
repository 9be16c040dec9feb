"""The overall symbol grade over several orientations: each image turned, decoded and graded;
the overall grade is the arithmetic mean of the scan grades (ISO/IEC 15415)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.vision import DecodingLadder, Grader
from edge.vision.decoding import Decoded, GreyImage
from edge.vision.grading import Scan, SymbolGrade, grade_orientations, mean_grade
from edge.vision.grading.orientations import angles, turned, turned_decode
from simulators.camera.symbols import PrintDefects
from tests.edge.vision.grading.conftest import UNIT_DATA, frame_of

LADDER = DecodingLadder(deadline_ms=2000, libdmtx_ms=2000)


def test_five_orientations_72_degrees_apart() -> None:
    assert angles(5) == (0.0, 72.0, 144.0, 216.0, 288.0)
    assert angles(4) == (0.0, 90.0, 180.0, 270.0)
    assert angles(1) == (0.0,)
    with pytest.raises(ConfigError, match=r"orientations: expected 1 to 36 images, got 0"):
        angles(0)


def test_quarter_turns_are_exact_and_other_turns_keep_the_whole_image() -> None:
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(turned(image, 90.0)[0], np.rot90(image))
    assert np.array_equal(turned(image, 0.0)[0], image)
    big = np.zeros((100, 200), np.uint8)
    assert turned(big, 72.0)[0].shape == (
        round(100 * np.cos(np.radians(72)) + 200 * np.sin(np.radians(72)) + 0.5),
        round(200 * np.cos(np.radians(72)) + 100 * np.sin(np.radians(72)) + 0.5),
    )


def test_a_symbol_graded_in_five_orientations() -> None:
    image, _ = frame_of(PrintDefects())
    symbol = grade_orientations(image, LADDER, Grader())
    assert [scan.angle_deg for scan in symbol.scans] == [0.0, 72.0, 144.0, 216.0, 288.0]
    for scan in symbol.scans:
        assert scan.report is not None and scan.decoded is not None
        assert scan.report.data == UNIT_DATA
        assert scan.scan_grade == 4
        # the decoder found the symbol turned as the image was (the solid L's angle)
        turn = (scan.decoded.angle_deg + scan.angle_deg + 180.0) % 360.0 - 180.0
        assert abs(turn) < 2.0, (scan.angle_deg, scan.decoded.angle_deg)
    assert symbol.overall == 4.0 and symbol.letter == "A"
    assert symbol.iso_notation() == "4.0/08/660"
    record = symbol.to_dict()
    assert record["orientations"] == 5
    assert [s["scan_grade"] for s in record["scans"]] == [4] * 5
    text = symbol.text("frame.png")
    assert text.startswith(
        "frame.png\nISO/IEC 15415 DataMatrix 22x22  overall grade 4.0 (A)  4.0/08/660\n"
        "  mean of 5 scan grades, the image turned:\n"
        "      0°  4 (A)\n     72°  4 (A)\n    144°  4 (A)\n    216°  4 (A)\n    288°  4 (A)\n"
        "  scan at 0°: grade 4 (A)  4.0/08/660\n"
    )


def test_a_symbol_that_does_not_decode_is_scan_grade_0_in_every_orientation() -> None:
    blank = np.full((200, 200), 255, np.uint8)
    symbol = grade_orientations(blank, LADDER, Grader())
    assert [scan.scan_grade for scan in symbol.scans] == [0] * 5
    assert {scan.error for scan in symbol.scans} == {"no DataMatrix read"}
    assert symbol.overall == 0.0 and symbol.detail is None
    assert "      0°  0 (F)  not graded: no DataMatrix read\n" in symbol.text()


def test_corners_turn_with_the_image() -> None:
    image, decoded = frame_of(PrintDefects())
    for angle in (72.0, 90.0, 180.0, 216.0):
        view, shown = turned(image, angle)
        moved = turned_decode(decoded, image.shape, angle)
        found = LADDER.decode(view)
        assert found is not None
        for ours, theirs in zip(moved.corners, found.corners, strict=True):
            # zxing-cpp's corners sit about half a module inside the outer edge
            assert abs(ours.x - theirs.x) < 6.0 and abs(ours.y - theirs.y) < 6.0, angle
        assert shown is None if angle % 90 == 0 else shown is not None and shown.mean() < 1


def test_a_quiet_zone_cut_off_stays_cut_off_when_turned() -> None:
    """The turned image's corners were never seen: they do not make up a quiet zone."""
    image, decoded = frame_of(PrintDefects())
    x = int(min(p.x for p in decoded.corners))  # crop through the left quiet zone
    cropped = np.ascontiguousarray(image[:, x - 1 :])
    found = LADDER.decode(cropped)
    assert found is not None
    symbol = grade_orientations(cropped, LADDER, Grader())
    assert symbol.scans[0].report is not None
    assert symbol.scans[0].report.parameters["fixed_pattern_damage"].grade == 0
    assert [scan.scan_grade for scan in symbol.scans] == [0] * 5


def test_the_overall_grade_is_the_arithmetic_mean_of_the_scan_grades() -> None:
    """Not the lowest, not the median, not the mean of parameter grades: the mean of the
    scan grades, to one decimal."""
    clean, _ = frame_of(PrintDefects())
    faded, _ = frame_of(PrintDefects(dark_reflectance=0.55))  # symbol contrast ~35 %: D
    grader = Grader()
    good = grader.grade(clean, _decode(clean))
    poor = grader.grade(faded, _decode(faded))
    assert (good.scan_grade, poor.scan_grade) == (4, 1)
    scans = (
        Scan(0.0, good),
        Scan(72.0, good),
        Scan(144.0, poor),
        Scan(216.0, None, "no DataMatrix read"),
        Scan(288.0, good),
    )
    symbol = SymbolGrade(scans)
    grades = [scan.scan_grade for scan in scans]
    assert grades == [4, 4, 1, 0, 4]
    assert symbol.overall == 2.6  # 13 / 5
    assert symbol.overall not in (min(grades), float(np.median(grades)), max(grades))
    assert symbol.letter == "B"
    assert mean_grade([4, 3, 3]) == 3.3 and mean_grade([]) == 0.0
    assert SymbolGrade((Scan(0.0, None, "no DataMatrix read"),)).overall == 0.0


def test_a_decoder_fault_is_that_scan_s_result() -> None:
    class Broken:
        name = "broken"

        def decode(self, image: GreyImage) -> Decoded | None:
            raise RuntimeError("library fault")

    image, _ = frame_of(PrintDefects())
    symbol = grade_orientations(image, Broken(), Grader(), 2)
    assert [scan.error for scan in symbol.scans] == ["decoder broken: library fault"] * 2
    assert [scan.angle_deg for scan in symbol.scans] == [0.0, 180.0]
    assert symbol.overall == 0.0 and symbol.detail is None


def _decode(image: GreyImage) -> Decoded:
    decoded = LADDER.decode(image)
    assert decoded is not None
    return decoded


def test_a_shown_mask_of_another_shape_is_the_report_s_error() -> None:
    image, decoded = frame_of(PrintDefects())
    report = Grader().grade(image, decoded, shown=np.ones((10, 10), dtype=bool))
    assert report.scan_grade == 0
    assert report.error == "shown: expected the image's shape (1024, 1280), got (10, 10)"
