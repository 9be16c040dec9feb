"""DataMatrix decoding with libdmtx (through pylibdmtx's ctypes bindings).

``pylibdmtx.decode`` is not used: it cannot set libdmtx's FNC1 property (without it the GS
separators of GS1 data are silently dropped) and it hides the symbol's corners and size.
This module drives the same libdmtx calls itself:

- ``DmtxPropFnc1`` = 0x1D, so FNC1 comes out as GS. An FNC1 in first position (a leading
  GS) marks GS1 data: it is stripped and the symbology identifier is ``]d2``, else ``]d1``.
- The search is bounded: one symbol at most and a deadline of ``timeout_ms`` for the whole
  call. Without a deadline libdmtx can take seconds on a frame without a code. ``shrink``
  (libdmtx's own subsampling) > 1 adds a faster first pass before the full-resolution one;
  it loses symbols whose modules drop below ~3 px, so the default is 1 (measured on the
  synthetic sets: same median time, better read rate).

libdmtx's image origin is the bottom-left corner; corners are turned into frame
coordinates (y down) here.
"""

from __future__ import annotations

from ctypes import byref, string_at
from typing import Any

import numpy as np

from edge.errors import ConfigError
from edge.vision.decoding import GS, Decoded, GreyImage, Point, module_size_of
from edge.vision.errors import DecoderError

try:
    from pylibdmtx import wrapper as dmtx
except ImportError as exc:  # libdmtx.so missing: pylibdmtx raises ImportError on load
    raise DecoderError(f"libdmtx: the shared library or pylibdmtx cannot be loaded: {exc}") from exc

_FNC1_AS_GS = 0x1D


class LibdmtxDecoder:
    """libdmtx DataMatrix decoder, bounded in time.

    ``timeout_ms``: deadline for the whole call; ``shrink``: libdmtx's subsampling factor for
    a first pass (1 = full resolution only); with ``shrink`` > 1 a full-resolution pass
    follows a miss while time remains.
    """

    name = "libdmtx"

    def __init__(self, *, timeout_ms: int = 60, shrink: int = 1) -> None:
        if timeout_ms < 1:
            raise ConfigError(f"timeout_ms: expected 1 ms or more, got {timeout_ms!r}")
        if shrink < 1:
            raise ConfigError(f"shrink: expected 1 or more, got {shrink!r}")
        self.timeout_ms = timeout_ms
        self.shrink = shrink

    def decode(self, image: GreyImage) -> Decoded | None:
        pixels = np.ascontiguousarray(image, dtype=np.uint8)
        height, width = pixels.shape[:2]
        deadline = dmtx.dmtxTimeAdd(dmtx.dmtxTimeNow(), self.timeout_ms)
        dmtx_image = dmtx.dmtxImageCreate(
            pixels.ctypes.data_as(dmtx.c_ubyte_p),
            width,
            height,
            dmtx.DmtxPackOrder.DmtxPack8bppK,
        )
        if not dmtx_image:
            raise DecoderError(f"libdmtx: cannot create an image of {width}x{height} pixels")
        try:
            for shrink in dict.fromkeys((self.shrink, 1)):
                decoded = self._search(dmtx_image, height, shrink, deadline)
                if decoded is not None:
                    return decoded
                if _passed(deadline):
                    break
            return None
        finally:
            dmtx.dmtxImageDestroy(byref(dmtx_image))

    def _search(self, dmtx_image: Any, height: int, shrink: int, deadline: Any) -> Decoded | None:
        decoder = dmtx.dmtxDecodeCreate(dmtx_image, shrink)
        if not decoder:
            raise DecoderError(f"libdmtx: cannot create a decoder with shrink {shrink}")
        try:
            dmtx.dmtxDecodeSetProp(decoder, dmtx.DmtxProperty.DmtxPropFnc1, _FNC1_AS_GS)
            while True:
                region = dmtx.dmtxRegionFindNext(decoder, byref(deadline))
                if not region:
                    return None
                try:
                    decoded = self._decode_region(decoder, region, height, shrink)
                finally:
                    dmtx.dmtxRegionDestroy(byref(region))
                if decoded is not None:
                    return decoded
        finally:
            dmtx.dmtxDecodeDestroy(byref(decoder))

    def _decode_region(self, decoder: Any, region: Any, height: int, shrink: int) -> Decoded | None:
        message = dmtx.dmtxDecodeMatrixRegion(decoder, region, dmtx.DmtxUndefined)
        if not message:
            return None
        try:
            output = string_at(message.contents.output, message.contents.outputIdx)
        finally:
            dmtx.dmtxMessageDestroy(byref(message))
        text = output.decode("latin-1")
        gs1 = text.startswith(GS)
        reg = region.contents
        corners = (
            _corner(reg.fit2raw, 0.0, 1.0, height, shrink),
            _corner(reg.fit2raw, 1.0, 1.0, height, shrink),
            _corner(reg.fit2raw, 1.0, 0.0, height, shrink),
            _corner(reg.fit2raw, 0.0, 0.0, height, shrink),
        )
        rows, columns = int(reg.symbolRows), int(reg.symbolCols)
        return Decoded(
            symbology_identifier="]d2" if gs1 else "]d1",
            data=text[1:] if gs1 else text,
            corners=corners,
            rows=rows,
            columns=columns,
            module_size=module_size_of(corners, rows, columns),
            decoder=self.name,
        )


def _corner(fit2raw: Any, x: float, y: float, height: int, shrink: int) -> Point:
    vector = dmtx.DmtxVector2(x, y)
    dmtx.dmtxMatrix3VMultiplyBy(vector, fit2raw)
    return Point(vector.X * shrink, height - vector.Y * shrink)


def _passed(deadline: Any) -> bool:
    now = dmtx.dmtxTimeNow()
    return bool((now.sec, now.usec) >= (deadline.sec, deadline.usec))
