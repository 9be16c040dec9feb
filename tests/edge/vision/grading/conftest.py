"""Symbols with known print defects in frames where the symbol's corners are known exactly,
so the grader is checked on its own (no decoder in between)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.vision.decoding import Decoded, Point
from edge.vision.grading import Grader, GradeReport, GradingSettings, ecc200
from simulators.camera.symbols import PrintDefects, on_label, render_symbol, symbol_modules

UNIT_HRI = "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"
UNIT_DATA = "01095060001343521728113010LOT2611\x1d21A1B2C3"
MODULES = symbol_modules(UNIT_HRI)  # 22 x 22, one block of 30 data + 20 EC codewords
SIZE = ecc200.size_of(*MODULES.shape)
assert SIZE is not None
CODEWORD_OF_MODULE = ecc200.placement(SIZE)[0]
QUIET = 2.0
MARGIN = 24
AT = (400, 300)


@dataclass(frozen=True)
class Graded:
    report: GradeReport
    frame: np.ndarray
    decoded: Decoded


def frame_of(
    defects: PrintDefects,
    *,
    module_px: float = 6.0,
    rotate_deg: float = 0.0,
    blur_sigma: float = 0.0,
    noise_sigma: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, Decoded]:
    """The symbol printed with ``defects`` in a 1280x1024 frame, photographed as asked, and
    a Decoded whose corners are exactly the symbol's outer corners."""
    symbol = render_symbol(MODULES, module_px=module_px, quiet_zone_modules=QUIET, defects=defects)
    label = on_label(symbol, margin_px=MARGIN, paper=round(defects.light_reflectance * 255))
    frame = np.full((1024, 1280), round(defects.light_reflectance * 255), np.float32)
    x, y = AT
    frame[y : y + label.shape[0], x : x + label.shape[1]] = label
    rows, columns = MODULES.shape
    x_pitch = module_px * (1 + defects.axial / 2)
    y_pitch = module_px * (1 - defects.axial / 2)
    # renderer coordinates (pixel i covers [i, i+1)) -> sampling coordinates (centre at i)
    left = x + MARGIN + QUIET * module_px - 0.5
    top = y + MARGIN + QUIET * module_px - 0.5
    corners = np.array(
        [
            (left, top),
            (left + columns * x_pitch, top),
            (left + columns * x_pitch, top + rows * y_pitch),
            (left, top + rows * y_pitch),
        ]
    )
    if rotate_deg:
        centre = tuple(corners.mean(axis=0))
        rotation = cv2.getRotationMatrix2D(centre, rotate_deg, 1.0)
        frame = cv2.warpAffine(
            frame, rotation, (1280, 1024), flags=cv2.INTER_LINEAR, borderValue=float(frame[0, 0])
        )
        corners = np.hstack((corners, np.ones((4, 1)))) @ rotation.T
    if blur_sigma:
        frame = cv2.GaussianBlur(frame, (0, 0), blur_sigma)
    if noise_sigma:
        frame = frame + np.random.default_rng(seed).standard_normal(frame.shape) * noise_sigma
    image = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    points = tuple(Point(float(px), float(py)) for px, py in corners)
    decoded = Decoded(
        symbology_identifier="]d2",
        data=UNIT_DATA,
        corners=points,  # type: ignore[arg-type]
        rows=rows,
        columns=columns,
        module_size=(x_pitch + y_pitch) / 2,
        decoder="known",
    )
    return image, decoded


def grade(defects: PrintDefects | None = None, *, aperture: float = 0.8, **camera: float) -> Graded:
    image, decoded = frame_of(defects or PrintDefects(), **camera)  # type: ignore[arg-type]
    report = Grader(GradingSettings(aperture=aperture)).grade(image, decoded)
    return Graded(report, image, decoded)


def grey(reflectance: float) -> float:
    """The reflectance a grey level stands for once written to an 8-bit image."""
    return round(reflectance * 255) / 255
