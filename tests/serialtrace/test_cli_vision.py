from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gs1 import UnitCode
from serialtrace.cli import main
from simulators.camera import render_label

UNIT = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {"label": tmp_path / "label.png", "blank": tmp_path / "blank.png"}
    cv2.imwrite(str(paths["label"]), render_label(UNIT.hri()))
    cv2.imwrite(str(paths["blank"]), np.full((100, 100), 255, np.uint8))
    return paths


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


@pytest.mark.parametrize("decoder", ["zxing", "libdmtx"])
def test_read_prints_one_json_line_per_image(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], decoder: str
) -> None:
    code = main(
        ["vision", "read", str(images["label"]), str(images["blank"]), "--decoder", decoder]
    )
    label, blank = lines(capsys.readouterr().out)
    assert code == 1  # the blank image is not ok
    assert label["outcome"] == "ok" and label["symbology_identifier"] == "]d2"
    assert label["data"] == UNIT.element_string() and label["decoder"] == decoder
    assert label["parsed"] == {
        "gtin": "09506000134352",
        "expiry": "281130",
        "lot": "LOT2611",
        "serial": "A1B2C3",
        "hri": UNIT.hri(),
    }
    assert label["quality"]["failures"] == [] and label["elapsed_ms"] > 0  # type: ignore[index]
    assert blank["outcome"] == "no_read" and blank["data"] is None


def test_expect_reports_mismatches_and_exit_status(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["vision", "read", str(images["label"]), "--expect", UNIT.hri()]) == 0
    assert lines(capsys.readouterr().out)[0]["outcome"] == "ok"
    other = "(01)09506000134352(17)281130(10)LOT2611(21)ZZZ"
    saved = tmp_path / "qa"
    assert (
        main(["vision", "read", str(images["label"]), "--expect", other, "--save-dir", str(saved)])
        == 1
    )
    (record,) = lines(capsys.readouterr().out)
    assert record["outcome"] == "wrong_data"
    assert record["mismatches"] == ["serial: expected 'ZZZ', got 'A1B2C3'"]
    assert sorted(p.suffix for p in saved.iterdir()) == [".json", ".png"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--expect", "(01)09506000134353"],
            "serialtrace: error: --expect: gtin: expected check digit 2",
        ),
        (
            ["--expect", "(00)095060001234567893"],
            "serialtrace: error: --expect: expected a unit code with AI (01), got Sscc",
        ),
        (
            ["--thresholds", "THRESHOLDS"],
            "serialtrace: error: --thresholds: unknown key 'min_contrast', expected one of",
        ),
        (["--aperture", "0.9"], "serialtrace: error: aperture: expected 0.5 to 0.8"),
        (
            ["--grade", "--calibration", "CALIBRATION"],
            "serialtrace: error: --calibration: calibration.white_grey: expected at least 10 "
            "grey levels above black_grey (20.0), got 25.0",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    images: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "t.toml").write_text("min_contrast = 0.5\n")
    (tmp_path / "c.toml").write_text("black_grey = 20\nwhite_grey = 25\n")
    argv = [
        {"THRESHOLDS": str(tmp_path / "t.toml"), "CALIBRATION": str(tmp_path / "c.toml")}.get(a, a)
        for a in argv
    ]
    assert main(["vision", "read", str(images["label"]), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.png"
    assert main(["vision", "read", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"serialtrace: error: FILE: expected an existing image file, got {str(missing)!r}\n"
    )


def test_unreadable_file_is_reported_in_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert main(["vision", "read", str(junk)]) == 1
    (record,) = lines(capsys.readouterr().out)
    assert record == {"source": str(junk), "outcome": None, "error": "file: not a readable image"}


def rotated_label(path: Path, angle: float) -> Path:
    label = render_label(UNIT.hri())
    height, width = label.shape
    canvas = np.full((height * 2, width * 2), 255, np.uint8)
    canvas[height // 2 : height // 2 + height, width // 2 : width // 2 + width] = label
    matrix = cv2.getRotationMatrix2D((width, height), angle, 1.0)
    cv2.imwrite(str(path), cv2.warpAffine(canvas, matrix, (width * 2, height * 2), borderValue=255))
    return path


def test_read_applies_no_line_thresholds_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tilted = rotated_label(tmp_path / "tilted.png", 140.0)  # past the line's ±15° limit
    assert main(["vision", "read", str(tilted)]) == 0
    (record,) = lines(capsys.readouterr().out)
    assert record["outcome"] == "ok" and record["step"] == "rotate"
    assert record["quality"]["failures"] == []  # type: ignore[index]
    thresholds = tmp_path / "line.toml"
    thresholds.write_text("[thresholds]\nmax_angle_deg = 15\n")
    assert main(["vision", "read", str(tilted), "--thresholds", str(thresholds)]) == 1
    (record,) = lines(capsys.readouterr().out)
    assert record["outcome"] == "poor_quality"
    assert record["failures"][0].startswith("angle_deg: expected within ±15")  # type: ignore[index]
    assert record["data"] == UNIT.element_string()  # what was read, whatever the outcome
    assert record["parsed"]["serial"] == "A1B2C3"  # type: ignore[index]


def test_read_with_a_minimum_grade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faded = tmp_path / "faded.png"
    label = render_label(UNIT.hri())
    cv2.imwrite(str(faded), (255 - (255 - label.astype(np.float32)) * 0.3).astype(np.uint8))
    thresholds = tmp_path / "grade.toml"
    thresholds.write_text("min_grade = 1.5\nmin_symbol_contrast = 0\n")
    assert main(["vision", "read", str(faded), "--thresholds", str(thresholds)]) == 1
    (record,) = lines(capsys.readouterr().out)
    assert record["outcome"] == "poor_quality"
    assert record["grade"]["parameters"]["symbol_contrast"]["grade"] == 1  # type: ignore[index]
    assert record["failures"] == [  # type: ignore[index]
        "grade: expected at least 1.5 (C), got 1.0 (D); lowest: symbol_contrast"
    ]


def test_grade_prints_a_verifier_report(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["vision", "grade", str(images["label"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"{images['label']}\nISO/IEC 15415 DataMatrix 22x22  overall grade 4.0 (A)"
    )
    for row in (
        "DEC  Decode",
        "SC   Symbol contrast",
        "MOD  Modulation",
        "RM   Reflectance margin",
        "FPD  Fixed pattern damage",
        "AN   Axial non-uniformity",
        "GN   Grid non-uniformity",
        "UEC  Unused error correction",
    ):
        assert row in out
    assert "fixed pattern segments: L1 4  L2 4  QZL1 4  QZL2 4  OCTASA 4  AG 4" in out
    assert "4.0/08/660" in out


def test_grade_json_aperture_and_exit_status(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["vision", "grade", str(images["label"]), str(images["blank"]), "--json"]
    assert main([*argv, "--aperture", "0.5"]) == 1  # the blank image is not graded
    label, blank = lines(capsys.readouterr().out)
    assert label["overall_grade"] == 4.0 and label["letter"] == "A"
    assert label["iso"] == "4.0/05/660" and label["aperture"]["x"] == 0.5  # type: ignore[index]
    assert label["symbology_identifier"] == "]d2" and label["step"] == "fast"
    assert label["parameters"]["decode"] == {"value": None, "grade": 4, "letter": "A"}  # type: ignore[index]
    assert blank == {"source": str(images["blank"]), "error": "no DataMatrix read"}


def test_grade_of_one_symbol_in_several_images(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    turned = rotated_label(tmp_path / "turned.png", 90.0)
    argv = ["vision", "grade", str(images["label"]), str(turned), "--symbol", "--json"]
    assert main([*argv, "--min-grade", "3.5"]) == 0
    *_, overall = lines(capsys.readouterr().out)
    assert overall == {"overall_grade": 4.0, "letter": "A"}


def test_grade_takes_five_orientations_by_default(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["vision", "grade", str(images["label"])]) == 0
    out = capsys.readouterr().out
    assert (
        "  mean of 5 scan grades, the image turned:\n"
        "      0°  4 (A)\n     72°  4 (A)\n    144°  4 (A)\n    216°  4 (A)\n    288°  4 (A)\n"
        "  scan at 0°: grade 4 (A)  4.0/08/660\n"
    ) in out
    assert main(["vision", "grade", str(images["label"]), "--json"]) == 0
    (record,) = lines(capsys.readouterr().out)
    assert record["orientations"] == 5 and record["overall_grade"] == 4.0
    scans = record["scans"]
    assert [s["angle_deg"] for s in scans] == [0.0, 72.0, 144.0, 216.0, 288.0]  # type: ignore[union-attr]
    assert [s["scan_grade"] for s in scans] == [4] * 5  # type: ignore[union-attr]


def test_grade_in_one_orientation_grades_the_image_as_it_is(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["vision", "grade", str(images["label"]), "--orientations", "1", "--json"]) == 0
    (record,) = lines(capsys.readouterr().out)
    assert "scans" not in record and record["overall_grade"] == 4.0
    assert main(["vision", "grade", str(images["label"]), "--orientations", "4"]) == 0
    assert "mean of 4 scan grades" in capsys.readouterr().out


def test_grade_min_grade_applies_to_the_mean_of_the_orientations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.png"  # 2.7 px per module: turning by 72° resamples it
    label = render_label(UNIT.hri())
    cv2.imwrite(str(small), cv2.resize(label, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA))
    assert main(["vision", "grade", str(small), "--json"]) == 0
    (record,) = lines(capsys.readouterr().out)
    grades = [s["scan_grade"] for s in record["scans"]]  # type: ignore[union-attr]
    assert record["overall_grade"] == round(sum(grades) / 5, 1)
    assert record["parameters"]["decode"]["grade"] == 4  # type: ignore[index]
    # at 2.7 px per module the turned (resampled) scans grade lower than the one at 0°
    assert grades[0] == 4 and min(grades) < 4
    capsys.readouterr()
    assert main(["vision", "grade", str(small), "--min-grade", "4"]) == 1  # the mean is < 4
    assert main(["vision", "grade", str(small), "--min-grade", "4", "--orientations", "1"]) == 0


@pytest.mark.parametrize("value", ["0", "37"])
def test_grade_bad_orientations_exit_2(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(["vision", "grade", str(images["label"]), "--orientations", value]) == 2
    assert capsys.readouterr().err == (
        f"serialtrace: error: --orientations: expected 1 to 36, got {value}\n"
    )
