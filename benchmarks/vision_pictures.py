"""Pictures of docs/vision.md: one per ISO/IEC 15415 parameter, a good print beside a bad
one, each graded by the shipped grader (the caption is its reading).

    .venv/bin/python benchmarks/vision_pictures.py      # writes docs/images/vision-*.png
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.vision import Grader
from edge.vision.decoding import Decoded, Point
from edge.vision.grading import GradeReport, ecc200
from edge.vision.grading.report import ABBREVIATIONS
from simulators.camera.symbols import (
    PrintDefects,
    Spot,
    modules_of_codewords,
    render_symbol,
    symbol_modules,
)

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
HRI = "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"
DATA = "01095060001343521728113010LOT2611\x1d21A1B2C3"
MODULES = symbol_modules(HRI)
SIZE = ecc200.size_of(*MODULES.shape)
assert SIZE is not None
CODEWORDS = ecc200.placement(SIZE)[0]
PX = 10.0
QUIET = 2.0
RED, GREEN, BLUE, AMBER = (40, 40, 220), (60, 160, 60), (200, 120, 30), (20, 150, 230)


def graded(defects: PrintDefects) -> tuple[np.ndarray, GradeReport, np.ndarray]:
    """The printed symbol (grey), its grading, and the homography module space -> image."""
    image = render_symbol(MODULES, module_px=PX, quiet_zone_modules=QUIET, defects=defects)
    rows, columns = MODULES.shape
    x_pitch, y_pitch = PX * (1 + defects.axial / 2), PX * (1 - defects.axial / 2)
    left = top = QUIET * PX - 0.5
    corners = [
        (left, top),
        (left + columns * x_pitch, top),
        (left + columns * x_pitch, top + rows * y_pitch),
        (left, top + rows * y_pitch),
    ]
    decoded = Decoded(
        "]d2",
        DATA,
        tuple(Point(x, y) for x, y in corners),  # type: ignore[arg-type]
        rows,
        columns,
        (x_pitch + y_pitch) / 2,
        "known",
    )
    report = Grader().grade(image, decoded)
    source = np.array([(0, 0), (columns, 0), (columns, rows), (0, rows)], np.float32)
    homography = cv2.getPerspectiveTransform(source, np.array(corners, np.float32))
    return image, report, homography


def centre(homography: np.ndarray, row: float, column: float) -> tuple[int, int]:
    point = cv2.perspectiveTransform(
        np.array([[[column + 0.5, row + 0.5]]], np.float32), homography
    )
    return round(float(point[0, 0, 0])), round(float(point[0, 0, 1]))


def mark(
    canvas: np.ndarray,
    homography: np.ndarray,
    cells: Iterable[tuple[int, int]],
    colour: tuple[int, int, int],
) -> None:
    for row, column in cells:
        x, y = centre(homography, row, column)
        cv2.rectangle(canvas, (x - 5, y - 5), (x + 5, y + 5), colour, 2)


def caption(report: GradeReport, parameter: str) -> str:
    p = report.parameters[parameter]
    value = "" if p.value is None else f" {p.value:.2f}"
    return f"{ABBREVIATIONS[parameter]}{value}: grade {p.grade} ({p.letter})"


def panel(image: np.ndarray, title: str, lines: list[str]) -> np.ndarray:
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
    pad = 28 + 20 * len(lines)
    out = cv2.copyMakeBorder(canvas, 30, pad, 10, 10, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(out, title, (10, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    y = 30 + canvas.shape[0] + 22
    for line in lines:
        cv2.putText(
            out, line, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (30, 30, 30), 1, cv2.LINE_AA
        )
        y += 20
    return out


Draw = Callable[[np.ndarray, np.ndarray, GradeReport], None]


def pair(
    name: str,
    parameter: str,
    good: PrintDefects,
    bad: PrintDefects,
    note: str,
    draw: Draw | None = None,
) -> None:
    panels = []
    for title, defects in (("good print", good), (note, bad)):
        image, report, homography = graded(defects)
        canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if draw is not None and defects is bad:
            draw(canvas, homography, report)
        lines = [caption(report, parameter), f"overall {report.overall:.1f} ({report.letter})"]
        if parameter == "fixed_pattern_damage":
            lines.insert(1, " ".join(f"{k} {v}" for k, v in report.segments.items()))
        if parameter == "unused_error_correction":
            lines.insert(
                1,
                f"codewords corrected: {report.corrected[0]} of {report.ec_capacity // 2} possible",
            )
        panels.append(panel(canvas, title, lines))
    height = max(p.shape[0] for p in panels)
    panels = [
        cv2.copyMakeBorder(
            p, 0, height - p.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255)
        )
        for p in panels
    ]
    path = OUT / f"vision-{name}.png"
    cv2.imwrite(str(path), np.hstack(panels))
    print(path)


def growth_text(report: GradeReport) -> str:
    horizontal, vertical = report.print_growth
    return f"print growth: horizontal {horizontal:+.0%}, vertical {vertical:+.0%}"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    perfect = PrintDefects()
    pair(
        "symbol-contrast",
        "symbol_contrast",
        perfect,
        PrintDefects(dark_reflectance=0.55),
        "faded ink (SC 35 %)",
    )

    weak_cells = modules_of_codewords(CODEWORDS, range(12))
    weak_dark = frozenset(c for c in weak_cells if MODULES[c])
    pair(
        "modulation",
        "modulation",
        perfect,
        PrintDefects(weak=weak_dark, weak_reflectance=0.40),
        "12 codewords printed weak",
        lambda canvas, h, r: mark(canvas, h, weak_dark, AMBER),
    )

    inverted = modules_of_codewords(CODEWORDS, range(0, 24, 3))
    pair(
        "reflectance-margin",
        "reflectance_margin",
        perfect,
        PrintDefects(inverted=inverted),
        "8 codewords wrong",
        lambda canvas, h, r: mark(canvas, h, inverted, RED),
    )
    pair(
        "unused-error-correction",
        "unused_error_correction",
        perfect,
        PrintDefects(inverted=inverted),
        "8 codewords wrong",
        lambda canvas, h, r: mark(canvas, h, inverted, RED),
    )
    too_many = modules_of_codewords(CODEWORDS, range(0, 33, 3))
    pair(
        "decode",
        "decode",
        perfect,
        PrintDefects(inverted=too_many),
        "11 codewords wrong: no decode",
        lambda canvas, h, r: mark(canvas, h, too_many, RED),
    )

    finder = frozenset((row, 0) for row in range(6, 9))
    ink = Spot(column=12.0, row=22.6, radius=1.0, dark=True)

    def outline(canvas: np.ndarray, h: np.ndarray, r: GradeReport) -> None:
        mark(canvas, h, finder, RED)
        x, y = centre(h, 22.1, 11.5)
        cv2.circle(canvas, (x, y), 14, RED, 2)

    pair(
        "fixed-pattern-damage",
        "fixed_pattern_damage",
        perfect,
        PrintDefects(inverted=finder, spots=(ink,)),
        "L1 gap, ink in the quiet zone",
        outline,
    )

    pair(
        "axial-nonuniformity",
        "axial_nonuniformity",
        perfect,
        PrintDefects(axial=0.11),
        "stretched 11 % along x",
    )

    def column(canvas: np.ndarray, h: np.ndarray, r: GradeReport) -> None:
        x0, y0 = centre(h, -1, 10)
        x1, y1 = centre(h, 22, 10)
        cv2.line(canvas, (x0 - 5, y0), (x1 - 5, y1), BLUE, 1)
        cv2.line(canvas, (x0 + 1, y0), (x1 + 1, y1), RED, 1)

    pair(
        "grid-nonuniformity",
        "grid_nonuniformity",
        perfect,
        PrintDefects(column_shifts=((10, 0.6),)),
        "column 10 printed 0.6 X to the right",
        column,
    )

    image, report, _ = graded(PrintDefects(dot_gain=0.3))
    lines = [growth_text(report), "(reported, not graded)"]
    good_image, good_report, _ = graded(perfect)
    good_lines = [growth_text(good_report), ""]
    path = OUT / "vision-print-growth.png"
    cv2.imwrite(
        str(path),
        np.hstack(
            (panel(good_image, "good print", good_lines), panel(image, "dots 30 % too big", lines))
        ),
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
