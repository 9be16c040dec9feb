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
            ["--min-contrast", "2"],
            "serialtrace: error: min_symbol_contrast: expected a number from 0 to 1, got 2.0",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
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
