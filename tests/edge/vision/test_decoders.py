from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from pylibdmtx import pylibdmtx

from edge.vision import ConfigError, Decoder, DecoderKind, decoder_kind, make_decoder
from edge.vision.libdmtx_decoder import LibdmtxDecoder
from edge.vision.zxing_decoder import ZxingDecoder
from tests.edge.vision.conftest import UNIT, frame_with, symbol

DECODERS = [DecoderKind.ZXING, DecoderKind.LIBDMTX]


@pytest.fixture(params=DECODERS, ids=str)
def decoder(request: pytest.FixtureRequest) -> Decoder:
    return make_decoder(request.param)


def test_reads_gs1_datamatrix_with_identifier_separators_corners_and_size(decoder: Decoder) -> None:
    # 22x22 modules of 6 px with a 1-module quiet zone, symbol at (506, 406)..(638, 538)
    frame = frame_with(symbol(UNIT.hri()), at=(500, 400))
    decoded = decoder.decode(frame)
    assert decoded is not None
    assert decoded.symbology_identifier == "]d2" and decoded.is_gs1
    assert decoded.data == UNIT.element_string()  # GS between lot and serial kept
    assert "\x1d" in decoded.data
    assert (decoded.rows, decoded.columns) == (22, 22)
    assert decoded.module_size == pytest.approx(6.0, abs=0.2)
    expected = [(506, 406), (638, 406), (638, 538), (506, 538)]
    for corner, (x, y) in zip(decoded.corners, expected, strict=True):
        assert corner.x == pytest.approx(x, abs=2.5) and corner.y == pytest.approx(y, abs=2.5)
    assert decoded.angle_deg == pytest.approx(0.0, abs=1.0)
    assert decoded.decoder == decoder.name


def test_pylibdmtx_decode_alone_drops_the_separator_ours_keeps_it() -> None:
    frame = frame_with(symbol(UNIT.hri()))
    (plain,) = pylibdmtx.decode(frame, max_count=1, timeout=500)
    assert b"\x1d" not in plain.data  # why LibdmtxDecoder sets DmtxPropFnc1 itself
    decoded = LibdmtxDecoder().decode(frame)
    assert decoded is not None and decoded.data == UNIT.element_string()


def test_plain_datamatrix_is_not_gs1(decoder: Decoder) -> None:
    decoded = decoder.decode(frame_with(symbol("HELLO 123", gs1=False)))
    assert decoded is not None
    assert decoded.symbology_identifier == "]d1" and not decoded.is_gs1
    assert decoded.data == "HELLO 123"


@pytest.mark.parametrize("angle", [-40.0, -12.0, 25.0])
def test_rotation_is_reported_as_the_angle(decoder: Decoder, angle: float) -> None:
    frame = frame_with(symbol(UNIT.hri()), at=(560, 440))
    rotation = cv2.getRotationMatrix2D((632.0, 512.0), angle, 1.0)  # positive: anticlockwise
    rotated = cv2.warpAffine(frame, rotation, (1280, 1024), borderValue=255)
    decoded = decoder.decode(rotated)
    assert decoded is not None and decoded.data == UNIT.element_string()
    assert decoded.angle_deg == pytest.approx(-angle, abs=2.0)


def test_zxing_falls_back_to_the_full_frame_for_small_modules() -> None:
    frame = frame_with(symbol(UNIT.hri(), module_px=2), at=(300, 300))
    assert ZxingDecoder(half_size_min_width=0).decode(frame) is not None
    decoded = ZxingDecoder().decode(frame)
    assert decoded is not None and decoded.module_size == pytest.approx(2.0, abs=0.2)


@pytest.mark.parametrize(
    "frame",
    [
        np.full((1024, 1280), 255, np.uint8),
        np.full((1024, 1280), 70, np.uint8),
        np.random.default_rng(1).integers(0, 256, (480, 640), dtype=np.uint8),
    ],
    ids=["white", "belt", "noise"],
)
def test_nothing_to_read_is_none(decoder: Decoder, frame: np.ndarray) -> None:
    assert decoder.decode(frame) is None


def test_libdmtx_is_bounded_by_its_timeout() -> None:
    noise = np.random.default_rng(2).integers(0, 256, (1024, 1280), dtype=np.uint8)
    started = time.monotonic()
    assert LibdmtxDecoder(timeout_ms=50).decode(noise) is None
    assert time.monotonic() - started < 1.0  # unbounded, libdmtx takes seconds here


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: decoder_kind("zbar"),
            "decoder: expected one of 'ladder', 'zxing', 'libdmtx', got 'zbar'",
        ),
        (
            lambda: ZxingDecoder(half_size_min_width=-1),
            "half_size_min_width: expected 0 or more pixels, got -1",
        ),
        (lambda: LibdmtxDecoder(timeout_ms=0), "timeout_ms: expected 1 ms or more, got 0"),
        (lambda: LibdmtxDecoder(shrink=0), "shrink: expected 1 or more, got 0"),
    ],
)
def test_bad_settings_are_config_errors(make: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make()  # type: ignore[operator]
    assert str(caught.value) == message


def test_registry_builds_each_kind() -> None:
    assert isinstance(make_decoder("zxing"), ZxingDecoder)
    assert isinstance(make_decoder(DecoderKind.LIBDMTX), LibdmtxDecoder)
