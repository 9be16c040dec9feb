from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.vision import ConfigError, QualityThresholds, make_decoder, measure_quality
from edge.vision.decoding import Decoded
from tests.edge.vision.conftest import UNIT, frame_with, symbol


def decode(frame: np.ndarray) -> Decoded:
    decoded = make_decoder("zxing").decode(frame)
    assert decoded is not None
    return decoded


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    # symbol modules at (506, 406)..(638, 538), 6 px each, white all around
    return frame_with(symbol(UNIT.hri()), at=(500, 400))


def test_clean_symbol_measures_full_contrast_and_passes(clean: np.ndarray) -> None:
    quality = measure_quality(clean, decode(clean))
    assert quality.symbol_contrast == pytest.approx(1.0, abs=0.02)
    assert quality.module_px == pytest.approx(6.0, abs=0.2)
    assert quality.quiet_zone_dark == 0.0
    assert quality.angle_deg == pytest.approx(0.0, abs=1.0)
    assert quality.ok and quality.failures == ()


def test_faded_print_fails_symbol_contrast(clean: np.ndarray) -> None:
    faded = (255 - (255 - clean.astype(np.float32)) * 0.3).astype(np.uint8)  # black -> 178
    quality = measure_quality(faded, decode(faded))
    assert quality.symbol_contrast == pytest.approx(0.30, abs=0.02)
    assert quality.failures == ("symbol_contrast: expected at least 0.40, got 0.30",)


def test_dark_mark_in_the_quiet_zone_fails_it(clean: np.ndarray) -> None:
    marked = clean.copy()
    marked[400:405, 480:660] = 0  # a bar across the whole top quiet zone
    quality = measure_quality(marked, decode(marked))
    assert quality.quiet_zone_dark == pytest.approx(0.25, abs=0.03)
    assert len(quality.failures) == 1
    assert quality.failures[0].startswith("quiet_zone: expected at most 5% dark, got 2")


def test_symbol_touching_the_frame_edge_has_no_quiet_zone() -> None:
    edge = frame_with(symbol(UNIT.hri())[6:, :], size=(640, 480), at=(100, 0))  # top zone cut off
    quality = measure_quality(edge, decode(edge))
    assert quality.quiet_zone_dark > 0.05
    assert any(failure.startswith("quiet_zone:") for failure in quality.failures)


def test_tilted_symbol_fails_the_angle_limit(clean: np.ndarray) -> None:
    rotation = cv2.getRotationMatrix2D((572.0, 472.0), 30.0, 1.0)
    tilted = cv2.warpAffine(clean, rotation, (1280, 1024), borderValue=255)
    quality = measure_quality(tilted, decode(tilted))
    assert quality.angle_deg == pytest.approx(-30.0, abs=2.0)
    assert quality.failures == (f"angle_deg: expected within ±15, got {quality.angle_deg:.1f}",)
    assert measure_quality(tilted, decode(tilted), QualityThresholds(max_angle_deg=45)).ok


def test_small_modules_fail_the_module_size_limit() -> None:
    small = frame_with(symbol(UNIT.hri(), module_px=2), at=(300, 300))
    quality = measure_quality(small, decode(small))
    assert quality.module_px == pytest.approx(2.0, abs=0.2)
    # at 2 px a module the corners' +-1 px also lands quiet-zone samples on the symbol
    assert quality.failures[0] == f"module_px: expected at least 3.0, got {quality.module_px:.1f}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"min_symbol_contrast": 1.5},
            "min_symbol_contrast: expected a number from 0 to 1, got 1.5",
        ),
        ({"min_module_px": -1.0}, "min_module_px: expected a number from 0 to 1000, got -1.0"),
        ({"quiet_zone_modules": 21}, "quiet_zone_modules: expected a number from 0 to 20, got 21"),
        ({"max_angle_deg": 200}, "max_angle_deg: expected a number from 0 to 180, got 200"),
    ],
)
def test_bad_thresholds_are_config_errors(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        QualityThresholds(**changes)
    assert str(caught.value) == message
