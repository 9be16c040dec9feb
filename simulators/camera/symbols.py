"""DataMatrix symbols printed with known defects, for grading tests and benchmarks.

A verifier's readings can only be checked against symbols whose defects are known exactly.
:func:`render_symbol` draws a module matrix (from :func:`symbol_modules`) the way a printer
with :class:`PrintDefects` would: ink and paper reflectance set exactly, dark modules grown
by dot gain, the two axes scaled differently, single columns or rows of modules displaced
(grid warp), chosen modules inverted (damage, erased codewords) and spots of ink or
white-out. Everything is drawn at 8x and area-averaged, so edges fall where the geometry
says, to a fraction of a pixel.

The expected ISO/IEC 15415 values follow from these settings by the standard's definitions;
the tests in ``tests/edge/vision`` hold the grader to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from simulators.camera.optics import GreyImage

BoolMatrix = npt.NDArray[np.bool_]
OVERSAMPLE = 16


def symbol_modules(content: str, *, gs1: bool = True) -> BoolMatrix:
    """The module matrix (True = dark) of a DataMatrix carrying ``content`` (``(01)…`` HRI
    when ``gs1``), as zxing-cpp encodes it: the smallest size that holds the data, which
    for some GS1 data is a rectangular (DMRE) one."""
    try:
        barcode = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.DataMatrix, gs1=gs1)
    except Exception as exc:  # zxing-cpp raises its own error types for bad content
        raise ValueError(
            f"content: expected data zxing-cpp can encode, got {content!r}: {exc}"
        ) from exc
    image = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
    return image < 128


@dataclass(frozen=True)
class Spot:
    """A round spot of ink (``dark``) or white-out, centre and radius in modules (column,
    row coordinates: the symbol's top-left corner is (0, 0))."""

    column: float
    row: float
    radius: float
    dark: bool = False


@dataclass(frozen=True)
class PrintDefects:
    """How the printer deviates from the ideal symbol (all zero: a perfect print).

    ``dot_gain``: how much wider (and taller) a dark module prints, as a fraction of the
    module size, spread evenly on both sides (0.2: a dark module 1.2 X wide). Negative is
    ink spread too little. ``axial``: the columns are ``1 + axial / 2`` and the rows
    ``1 - axial / 2`` module sizes apart, so the axial non-uniformity is exactly ``axial``.
    ``column_shifts``/``row_shifts``: ``(index, shift)`` pairs moving every module of one
    column (row) by ``shift`` module sizes (grid warp). ``inverted``: ``(row, column)``
    modules printed the wrong colour. ``weak``: dark modules printed at
    ``weak_reflectance`` instead of ink (a worn printhead dot, a ribbon wrinkle).
    ``spots``: ink or white-out on top of the print.
    """

    dark_reflectance: float = 0.05
    light_reflectance: float = 0.90
    dot_gain: float = 0.0
    axial: float = 0.0
    column_shifts: tuple[tuple[int, float], ...] = ()
    row_shifts: tuple[tuple[int, float], ...] = ()
    inverted: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    weak: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    weak_reflectance: float = 0.5
    spots: tuple[Spot, ...] = ()

    def __post_init__(self) -> None:
        for name in ("dark_reflectance", "light_reflectance", "weak_reflectance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name}: expected 0 to 1, got {value!r}")
        if not -0.9 < self.dot_gain < 0.9:
            raise ValueError(f"dot_gain: expected -0.9 to 0.9 of a module, got {self.dot_gain!r}")
        if not -0.5 < self.axial < 0.5:
            raise ValueError(f"axial: expected -0.5 to 0.5, got {self.axial!r}")


def render_symbol(
    modules: BoolMatrix,
    *,
    module_px: float = 6.0,
    quiet_zone_modules: float = 2.0,
    defects: PrintDefects | None = None,
) -> GreyImage:
    """The printed symbol as an 8-bit image (grey = reflectance x 255), quiet zone included.

    ``module_px`` is the nominal module size; the quiet zone is light paper of
    ``quiet_zone_modules`` module sizes on every side.
    """
    print_ = defects or PrintDefects()
    if not (math.isfinite(module_px) and 1.0 <= module_px <= 100.0):
        raise ValueError(f"module_px: expected 1 to 100 pixels, got {module_px!r}")
    if quiet_zone_modules < 0:
        raise ValueError(f"quiet_zone_modules: expected 0 or more, got {quiet_zone_modules!r}")
    rows, columns = modules.shape
    dark = modules.copy()
    for row, column in print_.inverted:
        if not (0 <= row < rows and 0 <= column < columns):
            raise ValueError(
                f"inverted: expected modules inside {rows}x{columns}, got {(row, column)}"
            )
        dark[row, column] = not dark[row, column]
    x_pitch = module_px * (1 + print_.axial / 2)
    y_pitch = module_px * (1 - print_.axial / 2)
    quiet = quiet_zone_modules * module_px
    column_shift = np.zeros(columns)
    for index, shift in print_.column_shifts:
        column_shift[index] += shift
    row_shift = np.zeros(rows)
    for index, shift in print_.row_shifts:
        row_shift[index] += shift
    width = math.ceil(2 * quiet + columns * x_pitch)
    height = math.ceil(2 * quiet + rows * y_pitch)
    scale = OVERSAMPLE
    # coverage per 1/16 pixel: 0 paper, 1 ink, 2 a weak dot (ink wins where they overlap)
    canvas = np.zeros((height * scale, width * scale), dtype=np.uint8)
    grow = print_.dot_gain * module_px / 2
    for weak_pass in (True, False):
        for row, column in zip(*np.nonzero(dark), strict=True):
            if ((int(row), int(column)) in print_.weak) is not weak_pass:
                continue
            x = quiet + (column + column_shift[column]) * x_pitch
            y = quiet + (row + row_shift[row]) * y_pitch
            x0, x1 = (x - grow) * scale, (x + x_pitch + grow) * scale
            y0, y1 = (y - grow) * scale, (y + y_pitch + grow) * scale
            canvas[round(y0) : round(y1), round(x0) : round(x1)] = 2 if weak_pass else 1
    for spot in print_.spots:
        centre = (
            round((quiet + spot.column * x_pitch) * scale),
            round((quiet + spot.row * y_pitch) * scale),
        )
        radius = max(1, round(spot.radius * module_px * scale))
        cv2.circle(canvas, centre, radius, 1 if spot.dark else 0, thickness=-1)
    light = print_.light_reflectance * 255.0
    levels = np.array(
        [light, print_.dark_reflectance * 255.0, print_.weak_reflectance * 255.0],
        dtype=np.float32,
    )
    image = np.asarray(
        cv2.resize(levels[canvas], (width, height), interpolation=cv2.INTER_AREA),
        dtype=np.float32,
    )
    return np.asarray(np.clip(np.rint(image), 0, 255), dtype=np.uint8)


def modules_of_codewords(
    codeword_of_module: npt.NDArray[np.integer], codewords: Iterable[int]
) -> frozenset[tuple[int, int]]:
    """The ``(row, column)`` modules carrying ``codewords``, given each module's codeword
    index (the placement a grader computes; -1 for fixed-pattern modules)."""
    wanted = np.isin(codeword_of_module, list(codewords))
    return frozenset((int(r), int(c)) for r, c in zip(*np.nonzero(wanted), strict=True))


def on_label(symbol: GreyImage, *, margin_px: int = 24, paper: int | None = None) -> GreyImage:
    """``symbol`` on a plain label with ``margin_px`` of paper around it (the paper's grey
    defaults to the symbol's brightest)."""
    level = int(symbol.max()) if paper is None else paper
    return np.asarray(
        cv2.copyMakeBorder(
            symbol, margin_px, margin_px, margin_px, margin_px, cv2.BORDER_CONSTANT, value=level
        ),
        dtype=np.uint8,
    )
