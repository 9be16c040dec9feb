"""Preview images of logistic labels' SSCC barcodes (for screens and reports).

python-barcode draws the GS1-128 symbol (its ``gs1_128`` class puts FNC1 first); the printer
draws the real one from ZPL. ``sscc_barcode_png`` gives PNG bytes, ``sscc_barcode_svg`` SVG.
"""

from __future__ import annotations

import io

import barcode
from barcode.writer import ImageWriter, SVGWriter

from gs1 import Sscc

MM_PER_INCH = 25.4


def _options(module: int, dpi: int, height_mm: float) -> dict[str, object]:
    return {
        "module_width": module * MM_PER_INCH / dpi,
        "module_height": height_mm,
        "quiet_zone": 10 * module * MM_PER_INCH / dpi,
        "dpi": dpi,
        "font_size": 10,
        "text_distance": 4,
    }


def sscc_barcode_png(
    sscc: Sscc, *, module: int = 4, dpi: int = 203, height_mm: float = 32
) -> bytes:
    """PNG of ``(00)`` + SSCC as GS1-128 with its human-readable line."""
    symbol = barcode.get("gs1_128", sscc.element_string(), writer=ImageWriter())
    out = io.BytesIO()
    symbol.write(out, options=_options(module, dpi, height_mm))
    return out.getvalue()


def sscc_barcode_svg(
    sscc: Sscc, *, module: int = 4, dpi: int = 203, height_mm: float = 32
) -> bytes:
    """SVG of ``(00)`` + SSCC as GS1-128 with its human-readable line."""
    symbol = barcode.get("gs1_128", sscc.element_string(), writer=SVGWriter())
    out = io.BytesIO()
    symbol.write(out, options=_options(module, dpi, height_mm))
    return out.getvalue()
