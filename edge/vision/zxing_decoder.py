"""DataMatrix decoding with zxing-cpp.

Only DataMatrix is searched and the text comes back as ``TextMode.Plain`` (GS as 0x1D, the
symbology identifier as the symbol says: ``]d2`` for GS1, ``]d8`` for GS1 DMRE; in this text
mode zxing-cpp 3 never sets the ECI modifiers, so a GS1 symbol with an ECI is ``]d2``/``]d8``
too, with the text after the ECI).

:func:`read` is one zxing-cpp call with explicit options; :class:`ZxingDecoder` is a single
pass (a half-size copy first for large frames, the full frame on a miss). zxing-cpp 3 finds
DataMatrix symbols rotated by more than about 45° only with ``try_rotate`` (on 40 frames at
random angles: 14 read without it, 40 with it), so the line uses the decoding ladder of
:mod:`edge.vision.ladder`, which adds rotation, full size, zxing-cpp's own downscaling,
inversion and libdmtx step by step, each only on a miss.
"""

from __future__ import annotations

import re

import cv2
import zxingcpp

from edge.errors import ConfigError
from edge.vision.decoding import Decoded, GreyImage, Point, module_size_of

_VERSION = re.compile(r"(\d+)x(\d+)")
_DATAMATRIX = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix)


class ZxingDecoder:
    """zxing-cpp DataMatrix decoder, one pass.

    ``half_size_min_width``: frames at least this wide are tried at half size first
    (0 turns the half-size pass off). ``try_rotate``/``try_downscale``/``try_invert`` are
    zxing-cpp's options of the same name.
    """

    name = "zxing"

    def __init__(
        self,
        *,
        half_size_min_width: int = 800,
        try_rotate: bool = False,
        try_downscale: bool = False,
        try_invert: bool = False,
    ) -> None:
        if half_size_min_width < 0:
            raise ConfigError(
                f"half_size_min_width: expected 0 or more pixels, got {half_size_min_width!r}"
            )
        self.half_size_min_width = half_size_min_width
        self.try_rotate = try_rotate
        self.try_downscale = try_downscale
        self.try_invert = try_invert

    def decode(self, image: GreyImage) -> Decoded | None:
        width = image.shape[1]
        if self.half_size_min_width and width >= self.half_size_min_width:
            decoded = self._read(half_size(image), 2.0)
            if decoded is not None:
                return decoded
        return self._read(image, 1.0)

    def _read(self, image: GreyImage, scale: float) -> Decoded | None:
        return read(
            image,
            scale=scale,
            try_rotate=self.try_rotate,
            try_downscale=self.try_downscale,
            try_invert=self.try_invert,
        )


def half_size(image: GreyImage) -> GreyImage:
    """The frame at half width and height (area-averaged)."""
    return cv2.resize(  # type: ignore[return-value]
        image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA
    )


def read(
    image: GreyImage,
    *,
    scale: float = 1.0,
    try_rotate: bool = False,
    try_downscale: bool = False,
    try_invert: bool = False,
    name: str = "zxing",
) -> Decoded | None:
    """One zxing-cpp call; corners scaled by ``scale`` back to the original frame."""
    barcodes = zxingcpp.read_barcodes(
        image,
        formats=_DATAMATRIX,
        try_rotate=try_rotate,
        try_downscale=try_downscale,
        try_invert=try_invert,
        text_mode=zxingcpp.TextMode.Plain,
    )
    if not barcodes:
        return None
    barcode = barcodes[0]
    position = barcode.position
    corners = (
        _point(position.top_left, scale),
        _point(position.top_right, scale),
        _point(position.bottom_right, scale),
        _point(position.bottom_left, scale),
    )
    rows, columns = _symbol_size(barcode.extra)
    return Decoded(
        symbology_identifier=barcode.symbology_identifier,
        data=barcode.text,
        corners=corners,
        rows=rows,
        columns=columns,
        module_size=module_size_of(corners, rows, columns),
        decoder=name,
    )


def _point(point: zxingcpp.Point, scale: float) -> Point:
    return Point(point.x * scale, point.y * scale)


def _symbol_size(extra: object) -> tuple[int, int]:
    """Rows and columns from zxing-cpp's ``extra["Version"]`` (``"22x22"``, ``"12x26"``)."""
    version = extra.get("Version", "") if isinstance(extra, dict) else ""
    match = _VERSION.fullmatch(str(version))
    if match is None:  # zxing-cpp always reports it for DataMatrix; be safe on old builds
        return 0, 0
    return int(match.group(1)), int(match.group(2))
