"""The decoding ladder: what each step reads that the ones before it do not, the step
recorded, the deadline, and the issue's frames: random angles that zxing-cpp's defaults read
and the old single pass did not."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import zxingcpp

from edge.vision import ConfigError, DecodingLadder, LadderStep, Outcome, Verifier
from edge.vision.zxing_decoder import ZxingDecoder
from simulators.camera import Optics
from simulators.camera.frameset import HARD, frames
from tests.edge.vision.conftest import UNIT, frame_with, symbol


def rotated(image: np.ndarray, angle: float) -> np.ndarray:
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderValue=255)


def test_an_upright_code_reads_at_the_fast_step() -> None:
    result = DecodingLadder().climb(frame_with(symbol(UNIT.hri())))
    assert result.decoded is not None and result.decoded.step == "fast"
    assert [step for step, _ in result.tried] == ["fast"]
    assert result.decoded.data == UNIT.element_string() and not result.deadline_hit


def test_a_code_turned_past_45_degrees_needs_rotation() -> None:
    frame = rotated(frame_with(symbol(UNIT.hri())), 135.0)
    assert ZxingDecoder().decode(frame) is None  # the old single pass: no read
    result = DecodingLadder().climb(frame)
    assert result.decoded is not None and result.decoded.step == "rotate"
    assert [step for step, _ in result.tried] == ["fast", "rotate"]


def test_light_on_dark_needs_the_inverted_frame() -> None:
    frame = 255 - frame_with(symbol(UNIT.hri()))
    result = DecodingLadder().climb(frame)
    assert result.decoded is not None and result.decoded.step == "invert"
    assert result.decoded.data == UNIT.element_string()


def test_small_modules_need_the_full_frame() -> None:
    frame = frame_with(symbol(UNIT.hri(), module_px=2), at=(300, 300))
    frame = rotated(frame, 60.0)
    result = DecodingLadder().climb(frame)
    assert result.decoded is not None and result.decoded.step == "full"


def test_libdmtx_is_the_last_step() -> None:
    ladder = DecodingLadder(steps=[LadderStep.LIBDMTX])
    result = ladder.climb(frame_with(symbol(UNIT.hri())))
    assert result.decoded is not None and result.decoded.step == "libdmtx"
    assert result.decoded.decoder == "libdmtx"


def test_a_miss_tries_every_step_and_libdmtx_keeps_its_budget() -> None:
    noise = np.random.default_rng(4).integers(0, 256, (1024, 1280), dtype=np.uint8)
    ladder = DecodingLadder(deadline_ms=5000.0, libdmtx_ms=60.0)
    result = ladder.climb(noise)
    assert result.decoded is None and not result.deadline_hit
    assert [step for step, _ in result.tried] == ["fast", "rotate", "full", "invert", "libdmtx"]
    assert dict(result.tried)["libdmtx"] < 60.0 + 60.0  # its own deadline (busy machine)


def test_a_miss_stays_within_the_deadline_plus_one_step() -> None:
    noise = np.random.default_rng(6).integers(0, 256, (1024, 1280), dtype=np.uint8)
    ladder = DecodingLadder(deadline_ms=150.0)
    ladder.climb(noise)  # learns the step costs on this frame size
    started = time.perf_counter()
    result = ladder.climb(noise)
    elapsed = (time.perf_counter() - started) * 1000
    assert result.decoded is None
    slowest = max(ms for _, ms in result.tried)
    assert elapsed <= 150.0 + slowest + 5.0  # a started zxing-cpp call is not cut off


def test_a_tight_deadline_skips_the_steps_that_do_not_fit() -> None:
    noise = np.random.default_rng(5).integers(0, 256, (1024, 1280), dtype=np.uint8)
    ladder = DecodingLadder(deadline_ms=5.0)
    ladder.climb(noise)  # learns what each step costs on this frame size
    result = ladder.climb(noise)
    assert result.deadline_hit
    assert "libdmtx" not in dict(result.tried)  # never started with under 10 ms left


def test_a_dmre_gs1_code_is_gs1() -> None:
    content = "(01)09506000134352(21)ABCDEFGHIJKLMNOPQR"  # zxing-cpp makes an 8x64 DMRE
    frame = frame_with(symbol(content, module_px=5))
    result = Verifier(DecodingLadder(), keep_images=False).verify(frame)
    assert result.decoded is not None
    assert result.decoded.symbology_identifier == "]d8" and result.decoded.is_gs1
    assert (result.decoded.rows, result.decoded.columns) == (8, 64)
    assert result.outcome is Outcome.OK and result.parsed is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deadline_ms": 0.5}, "deadline_ms: expected 1 to 10000 ms, got 0.5"),
        ({"libdmtx_ms": 5.0}, "libdmtx_ms: expected 10 to 10000 ms, got 5.0"),
        ({"steps": []}, "steps: expected at least one step, got none"),
        (
            {"steps": ["fast", "zbar"]},
            "steps: expected any of 'fast', 'rotate', 'full', 'invert', 'libdmtx', got 'zbar'",
        ),
        ({"half_size_min_width": -1}, "half_size_min_width: expected 0 or more pixels, got -1"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DecodingLadder(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_issues_frames_every_angle_read() -> None:
    """40 GS1 frames, 1280x1024, any angle, blur, 40-90 % contrast, noise: the old single
    pass read 14 of them (the issue); the ladder must read every one zxing-cpp's defaults
    read."""
    spec = HARD.__class__(
        "issue",
        Optics(max_rotation_deg=180.0, max_blur_sigma=2.5, max_noise_sigma=5.0),
        module_px=(6.0, 6.0),
        contrast=(0.36, 0.81),
    )
    ladder = DecodingLadder(deadline_ms=1000.0)
    single = ZxingDecoder()
    defaults = ladder_reads = single_reads = 0
    for frame in frames(spec, 40, seed=19):
        read = zxingcpp.read_barcodes(
            frame.image,
            formats=zxingcpp.BarcodeFormat.DataMatrix,
            text_mode=zxingcpp.TextMode.Plain,
        )
        by_defaults = bool(read) and read[0].text == frame.element_string
        decoded = ladder.decode(frame.image)
        by_ladder = decoded is not None and decoded.data == frame.element_string
        old = single.decode(frame.image)
        single_reads += old is not None and old.data == frame.element_string
        defaults += by_defaults
        ladder_reads += by_ladder
        assert by_ladder or not by_defaults, f"frame {frame.index}: defaults read it, ladder not"
    assert ladder_reads >= defaults >= 36
    assert single_reads < defaults  # what the issue saw: the single pass loses reads
