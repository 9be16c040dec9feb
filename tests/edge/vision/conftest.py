"""Synthetic GS1 labels and frames for the vision tests."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp

from gs1 import UnitCode
from simulators.camera.testcard import render_label

UNIT = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")
OTHER_SERIAL = UnitCode.create(
    gtin="09506000134352", serial="A1B2C4", lot="LOT2611", expiry="281130"
)


def symbol(content: str, *, module_px: int = 6, gs1: bool = True) -> np.ndarray:
    """A DataMatrix with a one-module quiet zone (zxing-cpp's own)."""
    barcode = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.DataMatrix, gs1=gs1)
    return np.asarray(barcode.to_image(scale=module_px), dtype=np.uint8)


def frame_with(
    image: np.ndarray,
    *,
    size: tuple[int, int] = (1280, 1024),
    at: tuple[int, int] = (500, 400),
    background: int = 255,
) -> np.ndarray:
    """``image`` pasted at ``at`` (x, y) into a frame of ``size`` (width, height)."""
    frame = np.full((size[1], size[0]), background, dtype=np.uint8)
    x, y = at
    frame[y : y + image.shape[0], x : x + image.shape[1]] = image
    return frame


@pytest.fixture(scope="session")
def unit_label() -> np.ndarray:
    return render_label(UNIT.hri())


@pytest.fixture(scope="session")
def unit_frame(unit_label: np.ndarray) -> np.ndarray:
    return frame_with(unit_label, background=70)
