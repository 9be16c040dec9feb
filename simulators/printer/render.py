"""Draw a label format as the print head would: 8-bit greyscale, white paper = 255.

DataMatrix and Code 128 symbols come from zxing-cpp, in GS1 mode when the field data starts
with FNC1 (the element string is turned into bracketed HRI for it with gs1's parser);
text is drawn with OpenCV's Hershey font. One unit label takes well under a millisecond
apart from the first call.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

import gs1
from simulators.printer.zpl import (
    Code128Field,
    DataMatrixField,
    LabelField,
    LabelFormat,
    TextField,
)

Image = npt.NDArray[np.uint8]
HERSHEY_HEIGHT = 30.0  # pixels of a line of text at font scale 1
HERSHEY_ADVANCE = 17.0  # pixels from one character to the next at font scale 1


class RenderError(ValueError):
    """A barcode field whose data the symbology cannot carry."""


@dataclass(frozen=True)
class Region:
    """Where a symbol landed on the label: rows y0:y1, columns x0:x1."""

    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True)
class RenderedLabel:
    image: Image
    barcodes: tuple[Region, ...]
    data: dict[str, str]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gs1Text:
    """One GS1 element string in the two bracketed forms: ``hri`` with (AI) for people,
    ``encoder`` with [AI] for zint, which then allows ( and ) inside the data."""

    hri: str
    encoder: str


def gs1_text(element_string: str) -> Gs1Text:
    """``01…17…10…<GS>21…`` → ``(01)…(17)…(10)…(21)…`` and ``[01]…[17]…[10]…[21]…``."""
    try:
        elements = gs1.parse_element_string(element_string)
    except gs1.Gs1Error as exc:
        raise RenderError(
            f"gs1: expected a GS1 element string, got {element_string!r}: {exc}"
        ) from exc
    encoder = "".join(f"[{ai}]{value}" for ai, value in elements)
    return Gs1Text("".join(f"({ai}){value}" for ai, value in elements), encoder)


# A Zebra ^BX with rows and columns 0 picks square ECC 200 symbols; zxing-cpp (zint) would
# pick a rectangular DMRE for some data. zxing-cpp 3.1 ignores the first entry of an options
# list, hence the leading comma; the result is checked below, so a change shows at once.
_DATAMATRIX_OPTIONS = {True: ",gs1,forceSquare", False: ",forceSquare"}
_SYMBOLOGY_IDS = {
    (zxingcpp.BarcodeFormat.DataMatrix, True): "]d2",
    (zxingcpp.BarcodeFormat.DataMatrix, False): "]d1",
    (zxingcpp.BarcodeFormat.Code128, True): "]C1",
    (zxingcpp.BarcodeFormat.Code128, False): "]C0",
}


def _symbol(
    content: str, gs1_data: Gs1Text | None, symbology: zxingcpp.BarcodeFormat, module: int
) -> Image:
    """The symbol at ``module`` dots per module; in GS1 mode when ``gs1_data`` is given."""
    gs1 = gs1_data is not None
    text = gs1_data.encoder if gs1_data is not None else content
    try:
        if symbology == zxingcpp.BarcodeFormat.DataMatrix:
            barcode = zxingcpp.create_barcode(text, symbology, options=_DATAMATRIX_OPTIONS[gs1])
        else:
            barcode = zxingcpp.create_barcode(text, symbology, gs1=gs1)
    except (ValueError, RuntimeError) as exc:
        raise RenderError(f"{symbology.name}: cannot encode {content!r}: {exc}") from exc
    expected = _SYMBOLOGY_IDS[symbology, gs1]
    if barcode.symbology_identifier != expected:
        raise RenderError(
            f"{symbology.name}: expected symbology identifier {expected} from zxing-cpp,"
            f" got {barcode.symbology_identifier!r} for {content!r}"
        )
    image = np.asarray(barcode.to_image(scale=module, add_quiet_zones=False), dtype=np.uint8)
    if symbology == zxingcpp.BarcodeFormat.DataMatrix and image.shape[0] != image.shape[1]:
        raise RenderError(f"DataMatrix: expected a square symbol, got {image.shape} pixels")
    return image


def _paste(canvas: Image, symbol: Image, x: int, y: int) -> Region | None:
    height, width = canvas.shape
    if x >= width or y >= height:
        return None
    part = symbol[: height - y, : width - x]
    canvas[y : y + part.shape[0], x : x + part.shape[1]] = part
    return Region(x, y, x + part.shape[1], y + part.shape[0])


def render(label: LabelFormat, default_width: int, default_length: int) -> RenderedLabel:
    """Draw every field of ``label``; a barcode it cannot encode is left out and named in
    ``errors`` (as a printer leaves out a symbol it cannot make)."""
    width = label.width or default_width
    length = label.length or default_length
    canvas = np.full((length, width), 255, dtype=np.uint8)
    regions: list[Region] = []
    data: dict[str, str] = {}
    texts: list[str] = []
    errors: list[str] = []
    for item in label.fields:
        try:
            region = _draw(canvas, item, data, texts)
        except RenderError as exc:
            errors.append(str(exc))
            continue
        if region is not None:
            regions.append(region)
    if texts:
        data["text"] = "\n".join(texts)
    return RenderedLabel(canvas, tuple(regions), data, tuple(errors))


def _draw(canvas: Image, item: LabelField, data: dict[str, str], texts: list[str]) -> Region | None:
    if isinstance(item, DataMatrixField):
        gs1 = gs1_text(item.content) if item.gs1 else None
        symbol = _symbol(item.content, gs1, zxingcpp.BarcodeFormat.DataMatrix, item.module)
        data["datamatrix"] = item.content
        if gs1 is not None:
            data["datamatrix_hri"] = gs1.hri
        top = max(0, item.y - symbol.shape[0]) if item.anchor_bottom else item.y
        return _paste(canvas, symbol, item.x, top)
    if isinstance(item, Code128Field):
        gs1 = gs1_text(item.content) if item.gs1 else None
        row = _symbol(item.content, gs1, zxingcpp.BarcodeFormat.Code128, item.module)[0]
        symbol = np.broadcast_to(row, (item.height, row.shape[0]))
        data["code128"] = item.content
        if gs1 is not None:
            data["code128_hri"] = gs1.hri
        return _paste(canvas, symbol, item.x, item.y)
    _text(canvas, item)
    texts.append(item.text)
    return None


def _text(canvas: Image, item: TextField) -> None:
    # ZPL's font width is about the character advance; keep within both height and width.
    scale = min(item.height / HERSHEY_HEIGHT, item.width / HERSHEY_ADVANCE)
    thickness = max(1, round(item.height / 14))
    text = item.text.encode("ascii", "replace").decode("ascii")
    cv2.putText(
        canvas,
        text,
        (item.x, item.y + item.height),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        0,
        thickness,
        cv2.LINE_8,
    )
