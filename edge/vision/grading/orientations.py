"""The overall symbol grade of one symbol over several orientations (ISO/IEC 15415).

ISO/IEC 15415 grades each image of a symbol (the scan grade, its lowest parameter) and takes
the arithmetic mean of the scan grades of several images of the symbol as the overall symbol
grade; a verifier turns the symbol between the images (five orientations). Here the image is
turned instead, by ``360 / orientations`` degrees each time (0°, 72°, 144°, 216°, 288° for
five), and graded again. The symbol is found once, in the image as it is; its corners are
turned with the image, so each scan's reference decode and parameters are measured where
the symbol now lies, independently of how well a decoder places corners at that angle. A
scan whose reference decode fails has scan grade 0 (Decode F), like any image.

A turn by a multiple of 90° is exact; any other angle resamples the image (bicubic), which
blurs a symbol of few pixels per module: below about 3 px per module the turned scans can
grade a step lower than the one at 0° (docs/vision.md has the figures). The corners of the
turned image that the camera never saw are marked as not shown, so a quiet zone cut off in
the original is still missing (damaged) in every orientation.

The line grades one image per unit (a process-control grade); this is for ``serialtrace
vision grade`` and QA.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.vision.decoding import Decoded, Decoder, GreyImage, Point
from edge.vision.grading.grader import BoolImage, Grader
from edge.vision.grading.report import Scan, SymbolGrade

STANDARD_ORIENTATIONS = 5
"""Images per symbol for the overall symbol grade, as a verifier takes them."""
MAX_ORIENTATIONS = 36


def angles(orientations: int) -> tuple[float, ...]:
    """The turns (degrees, counter-clockwise) of ``orientations`` evenly spaced images."""
    if not 1 <= orientations <= MAX_ORIENTATIONS:
        raise ConfigError(
            f"orientations: expected 1 to {MAX_ORIENTATIONS} images, got {orientations!r}"
        )
    return tuple(360.0 * i / orientations for i in range(orientations))


def turn_matrix(
    shape: tuple[int, ...], angle_deg: float
) -> tuple[npt.NDArray[np.float64], int, int]:
    """The 2x3 affine map of pixel (x, y) in an image of ``shape`` to the image turned
    ``angle_deg`` counter-clockwise about its centre on a canvas that holds all of it, and
    that canvas's width and height."""
    height, width = shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle_deg, 1.0)
    quarter = angle_deg / 90.0
    if quarter == round(quarter):
        matrix = np.round(matrix)  # exact: cos and sin are 0 or ±1
        new_width, new_height = (height, width) if round(quarter) % 2 else (width, height)
    else:
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        new_width = math.ceil(width * cos + height * sin)
        new_height = math.ceil(width * sin + height * cos)
    matrix[0, 2] += (new_width - width) / 2
    matrix[1, 2] += (new_height - height) / 2
    return np.asarray(matrix, dtype=np.float64), new_width, new_height


def turned(image: GreyImage, angle_deg: float) -> tuple[GreyImage, BoolImage | None]:
    """``image`` turned ``angle_deg`` counter-clockwise about its centre, whole, and which of
    its pixels show the original (None: all of them, as for a quarter turn)."""
    quarter = angle_deg / 90.0
    if quarter == round(quarter):
        return np.ascontiguousarray(np.rot90(image, round(quarter) % 4)), None
    matrix, width, height = turn_matrix(image.shape, angle_deg)
    out = cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    shown = cv2.warpAffine(
        np.ones(image.shape[:2], dtype=np.uint8),
        matrix,
        (width, height),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.asarray(out, dtype=np.uint8), np.asarray(shown, dtype=bool)


def turned_decode(decoded: Decoded, shape: tuple[int, ...], angle_deg: float) -> Decoded:
    """``decoded`` with its corners where the turn of an image of ``shape`` puts them."""
    matrix, _, _ = turn_matrix(shape, angle_deg)
    corners = tuple(
        Point(*(float(v) for v in matrix @ np.array([p.x, p.y, 1.0]))) for p in decoded.corners
    )
    return replace(decoded, corners=corners)  # type: ignore[arg-type]


def grade_orientations(
    image: GreyImage,
    decoder: Decoder,
    grader: Grader,
    orientations: int = STANDARD_ORIENTATIONS,
) -> SymbolGrade:
    """Find the symbol in ``image`` with ``decoder``, then grade it turned to each of
    ``orientations`` evenly spaced angles; the overall grade is the mean of the scan
    grades. A decoder fault or a miss is every scan's result (grade 0), never an exception."""
    turns = angles(orientations)
    try:
        decoded = decoder.decode(image)
    except Exception as exc:  # a decoder library fault is this image's result
        return SymbolGrade(tuple(Scan(a, None, f"decoder {decoder.name}: {exc}") for a in turns))
    if decoded is None:
        return SymbolGrade(tuple(Scan(a, None, "no DataMatrix read") for a in turns))
    return grade_turns(image, decoded, grader, turns)


def grade_turns(
    image: GreyImage, decoded: Decoded, grader: Grader, turns: tuple[float, ...]
) -> SymbolGrade:
    """Grade the symbol ``decoded`` in ``image`` turned by each of ``turns`` (degrees)."""
    scans = []
    for angle in turns:
        view, shown = turned(image, angle)
        moved = turned_decode(decoded, image.shape, angle)
        scans.append(Scan(angle, grader.grade(view, moved, shown=shown), decoded=moved))
    return SymbolGrade(tuple(scans))
