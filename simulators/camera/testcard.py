"""GS1 DataMatrix test labels for the camera, without a printer.

The camera simulator normally photographs what the virtual printer prints
(:class:`simulators.labels.PrintedLabel`). For bring-up, tests and benchmarks
:func:`render_label` draws a plain unit label itself: white paper, the GS1 DataMatrix with
its quiet zone, and optionally the human-readable text beside it.
"""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from simulators.camera.optics import GreyImage


def render_label(
    hri: str,
    *,
    module_px: int = 6,
    quiet_zone_modules: int = 2,
    margin_px: int = 24,
    text: bool = True,
) -> GreyImage:
    """A unit label carrying ``hri`` (``"(01)…(17)…(10)…(21)…"``) as a GS1 DataMatrix.

    Raises ``ValueError`` (from zxing-cpp) when ``hri`` is not valid GS1 data.
    """
    if module_px < 1 or quiet_zone_modules < 0 or margin_px < 0:
        raise ValueError(
            f"render_label: expected module_px >= 1 and non-negative margins, got "
            f"module_px={module_px!r}, quiet_zone_modules={quiet_zone_modules!r}, "
            f"margin_px={margin_px!r}"
        )
    try:
        barcode = zxingcpp.create_barcode(hri, zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    except Exception as exc:  # zxing-cpp raises its own error types for bad content
        raise ValueError(f"hri: expected GS1 data in (AI) form, got {hri!r}: {exc}") from exc
    symbol = np.asarray(barcode.to_image(scale=module_px, add_quiet_zones=False), dtype=np.uint8)
    quiet = quiet_zone_modules * module_px
    symbol = np.asarray(
        cv2.copyMakeBorder(symbol, quiet, quiet, quiet, quiet, cv2.BORDER_CONSTANT, value=255),
        dtype=np.uint8,
    )
    lines = _hri_lines(hri) if text else []
    text_w = 0
    scale = max(0.5, module_px / 8)
    line_h = int(30 * scale) + 6
    for line in lines:
        (w, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        text_w = max(text_w, w)
    height = max(symbol.shape[0], line_h * len(lines)) + 2 * margin_px
    width = symbol.shape[1] + (text_w + margin_px if lines else 0) + 2 * margin_px
    label = np.full((height, width), 255, dtype=np.uint8)
    top = (height - symbol.shape[0]) // 2
    label[top : top + symbol.shape[0], margin_px : margin_px + symbol.shape[1]] = symbol
    x = margin_px + symbol.shape[1] + margin_px
    y = (height - line_h * len(lines)) // 2 + line_h - 6
    for line in lines:
        cv2.putText(label, line, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 1, cv2.LINE_AA)
        y += line_h
    return label


def _hri_lines(hri: str) -> list[str]:
    """One ``(AI) value`` line per element: ``"(01)0950…(21)A1"`` -> ``["(01) 0950…", …]``."""
    parts = [part for part in hri.split("(") if part]
    return [f"({part.replace(')', ') ', 1)}" for part in parts]
