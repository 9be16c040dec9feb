from __future__ import annotations

import io

import numpy as np
import zxingcpp
from PIL import Image

from edge.printers.preview import sscc_barcode_png, sscc_barcode_svg
from gs1 import Sscc

SSCC = Sscc.parse("095060001234567893")


def test_png_preview_reads_back_as_gs1_128() -> None:
    image = np.asarray(Image.open(io.BytesIO(sscc_barcode_png(SSCC))).convert("L"))
    (barcode,) = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
    assert (barcode.symbology_identifier, barcode.text) == ("]C1", "00095060001234567893")


def test_svg_preview_carries_the_hri() -> None:
    svg = sscc_barcode_svg(SSCC)
    assert svg.startswith(b"<?xml") and b"00095060001234567893" in svg
