from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.vision import (
    ConfigError,
    Decoded,
    Grader,
    Outcome,
    QualityThresholds,
    Verifier,
    make_decoder,
)
from edge.vision.decoding import GreyImage
from edge.vision.libdmtx_decoder import LibdmtxDecoder
from gs1 import Sscc, UnitCode
from simulators.camera import Optics, compose_frame, render_label
from tests.edge.vision.conftest import OTHER_SERIAL, UNIT, frame_with, symbol


@pytest.fixture(scope="module", params=["zxing", "libdmtx"])
def verifier(request: pytest.FixtureRequest) -> Verifier:
    if request.param == "libdmtx":
        # libdmtx's deadline is wall-clock: generous here, so other work on the cores does not
        # turn into no_read (these tests are about outcomes, not speed).
        return Verifier(LibdmtxDecoder(timeout_ms=2_000))
    return Verifier(make_decoder(request.param))


def test_matching_well_printed_code_is_ok(verifier: Verifier, unit_frame: np.ndarray) -> None:
    result = verifier.verify(unit_frame, UNIT, source="unit-1")
    assert result.outcome is Outcome.OK and result.ok
    assert result.parsed == UNIT and result.expected == UNIT
    assert result.mismatches == () and result.error is None
    assert result.quality is not None and result.quality.ok
    assert result.elapsed_ms > 0 and result.source == "unit-1"


def test_without_expectation_any_well_printed_gs1_code_is_ok(
    verifier: Verifier, unit_frame: np.ndarray
) -> None:
    assert verifier.verify(unit_frame).outcome is Outcome.OK


def test_other_serial_is_wrong_data_naming_the_field(
    verifier: Verifier, unit_frame: np.ndarray
) -> None:
    result = verifier.verify(unit_frame, OTHER_SERIAL)
    assert result.outcome is Outcome.WRONG_DATA
    assert result.mismatches == ("serial: expected 'A1B2C4', got 'A1B2C3'",)
    assert result.quality is not None  # still measured, for the record


def test_every_differing_field_is_listed(verifier: Verifier, unit_frame: np.ndarray) -> None:
    expected = UnitCode.create(gtin="04006381333931", serial="X", lot="L2", expiry="290101")
    result = verifier.verify(unit_frame, expected)
    assert result.mismatches == (
        "gtin: expected '04006381333931', got '09506000134352'",
        "expiry: expected '290101', got '281130'",
        "lot: expected 'L2', got 'LOT2611'",
        "serial: expected 'X', got 'A1B2C3'",
    )


def test_sscc_where_a_unit_is_expected_is_wrong_data(verifier: Verifier) -> None:
    frame = frame_with(symbol("(00)095060001234567893"))
    result = verifier.verify(frame, UNIT)
    assert result.outcome is Outcome.WRONG_DATA
    assert isinstance(result.parsed, Sscc)
    assert result.mismatches == ("code: expected a unit code (GTIN), got Sscc",)


def test_plain_datamatrix_is_not_gs1(verifier: Verifier) -> None:
    result = verifier.verify(frame_with(symbol(UNIT.element_string(), gs1=False)), UNIT)
    assert result.outcome is Outcome.NOT_GS1
    assert result.error == (
        "symbology_identifier: expected a GS1 DataMatrix (]d2, ]d5, ]d8, ]dB), got ']d1'"
    )
    assert result.parsed is None


def test_gs1_symbol_with_bad_check_digit_is_not_gs1(verifier: Verifier) -> None:
    result = verifier.verify(frame_with(symbol("(01)09506000134353(21)A1")), UNIT)
    assert result.outcome is Outcome.NOT_GS1
    assert result.error == "gtin: expected check digit 2, got 3 in '09506000134353'"


def test_empty_belt_is_no_read(verifier: Verifier) -> None:
    result = verifier.verify(np.full((480, 640), 70, np.uint8), UNIT)
    assert result.outcome is Outcome.NO_READ
    assert result.decoded is None and result.quality is None and result.error is None


def test_faded_print_is_poor_quality(verifier: Verifier, unit_label: np.ndarray) -> None:
    faded = (255 - (255 - unit_label.astype(np.float32)) * 0.3).astype(np.uint8)
    result = verifier.verify(frame_with(faded, background=70), UNIT)
    assert result.outcome is Outcome.POOR_QUALITY
    assert result.quality is not None
    assert result.quality.failures[0].startswith("symbol_contrast: expected at least 0.40")


def test_wrong_data_outranks_poor_quality(verifier: Verifier, unit_label: np.ndarray) -> None:
    faded = (255 - (255 - unit_label.astype(np.float32)) * 0.3).astype(np.uint8)
    assert verifier.verify(frame_with(faded), OTHER_SERIAL).outcome is Outcome.WRONG_DATA


class BrokenDecoder:
    name = "broken"

    def decode(self, image: GreyImage) -> Decoded | None:
        raise RuntimeError("library fault")


def test_a_failing_decoder_is_a_no_read_value_not_an_exception(unit_frame: np.ndarray) -> None:
    result = Verifier(BrokenDecoder()).verify(unit_frame, UNIT)
    assert result.outcome is Outcome.NO_READ
    assert result.error == "decoder broken: library fault"


def test_save_writes_image_and_json_for_qa(
    verifier: Verifier, unit_frame: np.ndarray, tmp_path: Path
) -> None:
    result = verifier.verify(unit_frame, OTHER_SERIAL, source="cam1/42")
    first, second = result.save(tmp_path), result.save(tmp_path)
    assert first != second  # never overwrites
    record = json.loads(first.read_text())
    assert record["outcome"] == "wrong_data"
    assert record["symbology_identifier"] == "]d2"
    assert record["data"] == UNIT.element_string()
    assert record["parsed"]["serial"] == "A1B2C3" and record["expected"]["serial"] == "A1B2C4"
    assert record["mismatches"] == ["serial: expected 'A1B2C4', got 'A1B2C3'"]
    assert record["source"] == "cam1/42" and record["quality"]["failures"] == []
    saved = cv2.imread(str(tmp_path / record["image"]), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(saved, unit_frame)


def test_results_without_kept_images_save_json_only(unit_frame: np.ndarray, tmp_path: Path) -> None:
    result = Verifier(make_decoder("zxing"), keep_images=False).verify(unit_frame, UNIT)
    path = result.save(tmp_path)
    assert "image" not in json.loads(path.read_text())
    assert [p.suffix for p in tmp_path.iterdir()] == [".json"]


# --- no false accept: frames without the right code must never come out ``ok`` ---


def _no_false_accept_frames() -> list[tuple[str, np.ndarray]]:
    label = render_label(UNIT.hri())
    wrong = render_label(OTHER_SERIAL.hri())
    frames: list[tuple[str, np.ndarray]] = []
    for seed in range(6):
        rng = np.random.default_rng([11, seed])
        frames.append(
            (
                f"no-code-{seed}",
                compose_frame(label, Optics(no_label_rate=1.0, max_noise_sigma=10), rng).image,
            )
        )
        frames.append(
            (
                f"wrong-{seed}",
                compose_frame(wrong, Optics(max_rotation_deg=10, max_blur_sigma=1), rng).image,
            )
        )
    # occluded: the symbol's centre covered by a finger-sized blot
    for seed, (x, y) in enumerate([(50, 50), (70, 90), (90, 60)]):
        occluded = label.copy()
        occluded[y : y + 70, x : x + 70] = 40 + 30 * seed
        frames.append((f"occluded-{seed}", frame_with(occluded, background=70)))
    return frames


@pytest.mark.parametrize(
    ("name", "frame"), _no_false_accept_frames(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_no_false_accept(verifier: Verifier, name: str, frame: np.ndarray) -> None:
    result = verifier.verify(frame, UNIT)
    assert result.outcome is not Outcome.OK, name
    if name.startswith("wrong"):
        assert result.outcome in (Outcome.WRONG_DATA, Outcome.NO_READ)


def test_thresholds_are_the_verifiers(unit_frame: np.ndarray) -> None:
    strict = Verifier(make_decoder("zxing"), QualityThresholds(min_module_px=10.0))
    result = strict.verify(unit_frame, UNIT)
    assert result.outcome is Outcome.POOR_QUALITY


def test_a_grader_grades_every_code_read(unit_frame: np.ndarray) -> None:
    verifier = Verifier(make_decoder("ladder"), grader=Grader(), keep_images=False)
    result = verifier.verify(unit_frame, UNIT)
    assert result.outcome is Outcome.OK and result.grade is not None
    assert result.grade.overall == 4.0 and result.step == "fast"
    record = result.to_dict()
    assert record["grade"]["overall_grade"] == 4.0 and record["step"] == "fast"
    wrong = verifier.verify(unit_frame, OTHER_SERIAL)
    assert wrong.outcome is Outcome.WRONG_DATA and wrong.grade is not None  # kept for the record


def test_a_grade_below_the_minimum_is_poor_quality(unit_label: np.ndarray) -> None:
    faded = (255 - (255 - unit_label.astype(np.float32)) * 0.3).astype(np.uint8)  # SC 0.30: D
    verifier = Verifier(
        make_decoder("ladder"),
        QualityThresholds(min_symbol_contrast=0.0),
        grader=Grader(),
        min_grade=1.5,
    )
    result = verifier.verify(frame_with(faded), UNIT)
    assert result.outcome is Outcome.POOR_QUALITY
    assert result.failures == (
        "grade: expected at least 1.5 (C), got 1.0 (D); lowest: symbol_contrast",
    )
    assert result.parsed == UNIT  # what was read is in the result, whatever the outcome
    assert (
        Verifier(make_decoder("ladder"), grader=Grader(), min_grade=1.0)
        .verify(frame_with(faded), UNIT)
        .outcome
        is Outcome.POOR_QUALITY
    )  # the default line thresholds still apply: SC < 0.40
    lenient = Verifier(
        make_decoder("ladder"), QualityThresholds(enforce=False), grader=Grader(), min_grade=1.0
    )
    assert lenient.verify(frame_with(faded), UNIT).outcome is Outcome.OK


def test_thresholds_that_are_not_enforced_measure_but_never_fail(unit_label: np.ndarray) -> None:
    faded = (255 - (255 - unit_label.astype(np.float32)) * 0.3).astype(np.uint8)
    result = Verifier(make_decoder("zxing"), QualityThresholds(enforce=False)).verify(
        frame_with(faded), UNIT
    )
    assert result.outcome is Outcome.OK
    assert result.quality is not None and result.quality.symbol_contrast == pytest.approx(
        0.30, abs=0.02
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_grade": 1.5}, "min_grade: expected a grader to grade with, got none"),
        ({"min_grade": 5.0, "grader": Grader()}, "min_grade: expected 0 to 4, got 5.0"),
    ],
)
def test_bad_grade_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Verifier(make_decoder("zxing"), **kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_grading_can_be_skipped_but_not_when_a_minimum_grade_rules(unit_frame: np.ndarray) -> None:
    graded = Verifier(make_decoder("ladder"), grader=Grader(), keep_images=False)
    assert graded.verify(unit_frame, UNIT, grade=False).grade is None
    ruled = Verifier(make_decoder("ladder"), grader=Grader(), min_grade=1.0, keep_images=False)
    assert ruled.verify(unit_frame, UNIT, grade=False).grade is not None
