"""The real images of ``shared/refdata/datamatrix`` graded (published in docs/vision.md by
``benchmarks/vision_refdata.py``): every image the ladder reads gets a report, nothing
raises, the reference decode agrees with the decoders' data, and the unused error
correction agrees with zxing-cpp's own (an independent implementation) on the renderings."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from edge.vision import DecodingLadder, Grader

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def samples(refdata: Path) -> list[tuple[Path, str]]:
    root = refdata / "datamatrix"
    return [
        (image, image.with_suffix(".txt").read_bytes().decode("utf-8"))
        for image in sorted(root.glob("datamatrix-*/*"))
        if image.suffix.lower() in SUFFIXES and image.with_suffix(".txt").is_file()
    ]


def test_every_image_read_is_graded_without_a_fault(refdata: Path) -> None:
    ladder = DecodingLadder(deadline_ms=500.0, libdmtx_ms=300.0)
    grader = Grader()
    graded = agreeing = 0
    for path, text in samples(refdata):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert image is not None
        decoded = ladder.decode(image)
        if decoded is None:
            continue
        report = grader.grade(image, decoded)
        graded += 1
        assert 0.0 <= report.overall <= 4.0
        assert report.elapsed_ms > 0
        if report.parameters["decode"].grade == 4:
            assert report.data == decoded.data, path.name  # reference decode agrees
            agreeing += decoded.data == text
    assert graded >= 85  # of 95 with a .txt; the ladder reads 91
    assert agreeing >= 50


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        ("HelloWorld_Text_L_Kaywa.png", 0),
        ("HelloWorld_Text_L_Kaywa_1_error_byte.png", 1),
        ("HelloWorld_Text_L_Kaywa_2_error_byte.png", 2),
        ("HelloWorld_Text_L_Kaywa_3_error_byte.png", 3),
        ("HelloWorld_Text_L_Kaywa_4_error_byte.png", 5),  # zxing-cpp counts 5 too
    ],
)
def test_error_bytes_are_counted_as_zxing_cpp_counts_them(
    refdata: Path, name: str, errors: int
) -> None:
    image = cv2.imread(str(refdata / "datamatrix" / "datamatrix-1" / name), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    decoded = DecodingLadder().decode(np.asarray(image))
    assert decoded is not None
    report = Grader().grade(image, decoded)
    assert report.corrected == (errors,)
    zxing = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix)[0]
    uec = report.parameters["unused_error_correction"].value
    assert uec == pytest.approx(float(zxing.extra["UEC"]), abs=0.02)  # 1 - 2t / 12


@pytest.mark.parametrize(
    "name",
    ["abcd-18x8.png", "abcd-26x12.png", "abcd-36x16.png", "abcd-52x52.png", "abcdefg-64x64.png"],
)
def test_clean_renderings_grade_a(refdata: Path, name: str) -> None:
    image = cv2.imread(str(refdata / "datamatrix" / "datamatrix-1" / name), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    decoded = DecodingLadder().decode(np.asarray(image))
    assert decoded is not None
    report = Grader().grade(image, decoded)
    assert report.overall == 4.0, report.text()


def test_a_rendering_without_its_top_quiet_zone_fails_fixed_pattern_damage(refdata: Path) -> None:
    path = refdata / "datamatrix" / "datamatrix-1" / "0123456789.png"
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    decoded = DecodingLadder().decode(np.asarray(image))
    assert decoded is not None
    report = Grader().grade(image, decoded)
    assert report.parameters["decode"].grade == 4
    # the symbol starts 2 px below the image's top edge: no quiet zone above the clock track
    assert report.segments["OCTASA"] == 0 and report.parameters["fixed_pattern_damage"].grade == 0
    assert report.extra["quiet_zone_outside_image"] > 0
