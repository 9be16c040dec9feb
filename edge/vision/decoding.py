"""What a DataMatrix decoder returns, the :class:`Decoder` protocol and the registry.

A decoder takes one 8-bit greyscale frame and returns the first DataMatrix it reads as a
:class:`Decoded`, or ``None`` when nothing reads. "Nothing reads" is a normal result, not an
exception. Decoders are chosen by :class:`DecoderKind` from configuration::

    decoder = make_decoder(DecoderKind.ZXING)
    decoded = decoder.decode(frame)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from gs1.scheme import DATAMATRIX_IDENTIFIERS

GreyImage = npt.NDArray[np.uint8]
"""An 8-bit greyscale image, shape ``(height, width)``, 255 = white."""

GS = "\x1d"
"""ASCII group separator: the FNC1 field separator of GS1 element strings."""

GS1_DATAMATRIX = "]d2"
"""ISO/IEC 15424 symbology identifier of a GS1 DataMatrix (FNC1 in first position)."""

GS1_DATAMATRIX_IDENTIFIERS = DATAMATRIX_IDENTIFIERS
"""The DataMatrix symbology identifiers of GS1 data, as :mod:`gs1` (their one owner) lists
them: the modifiers that signal FNC1 in first position, ``]d2`` (ECC 200), ``]d5`` (with
ECI, ISO/IEC 16022 Table N.1), ``]d8`` and ``]dB`` (a rectangular extension symbol, DMRE,
ISO/IEC 21471, without and with ECI, as zxing-cpp 3 reports them). ``]d3``/``]d6`` (FNC1 in
second position) and the plain ``]d1``/``]d4``/``]d7``/``]dA`` are not GS1 DataMatrix."""


@dataclass(frozen=True)
class Point:
    """A point in frame pixel coordinates (x to the right, y down)."""

    x: float
    y: float


@dataclass(frozen=True)
class Decoded:
    """One decoded DataMatrix.

    ``data`` is the message as transmitted after the symbology identifier: for a GS1
    DataMatrix the AI element string without the leading FNC1, with GS (0x1D) between
    variable-length fields. ``corners`` are the symbol's outer corners in frame pixels, in
    symbol orientation: top-left, top-right, bottom-right, bottom-left (the solid "L"
    finder runs along the left and bottom edges). ``rows`` x ``columns`` is the symbol size
    in modules (e.g. 22 x 22) and ``module_size`` the mean module pitch in pixels.
    ``step`` names the decoding ladder step that read it (empty for a single decoder).
    """

    symbology_identifier: str
    data: str
    corners: tuple[Point, Point, Point, Point]
    rows: int
    columns: int
    module_size: float
    decoder: str
    step: str = ""

    @property
    def is_gs1(self) -> bool:
        """True when the symbol carries GS1 data: a DataMatrix symbology identifier whose
        modifier signals FNC1 in first position (see :data:`GS1_DATAMATRIX_IDENTIFIERS`)."""
        return self.symbology_identifier in GS1_DATAMATRIX_IDENTIFIERS

    @property
    def transmitted(self) -> str:
        """What a scanner with symbology identifiers on would send: identifier + data."""
        return self.symbology_identifier + self.data

    @property
    def angle_deg(self) -> float:
        """Rotation of the symbol's top edge against the frame's x axis, in (-180, 180]."""
        top_left, top_right = self.corners[0], self.corners[1]
        angle = math.degrees(math.atan2(top_right.y - top_left.y, top_right.x - top_left.x))
        return 180.0 if angle == -180.0 else angle


def module_size_of(corners: tuple[Point, Point, Point, Point], rows: int, columns: int) -> float:
    """Mean module pitch in pixels from the symbol's corners and its size in modules.

    0.0 when the size in modules is unknown.
    """
    if rows <= 0 or columns <= 0:
        return 0.0
    tl, tr, br, bl = corners
    horizontal = (math.dist((tl.x, tl.y), (tr.x, tr.y)) + math.dist((bl.x, bl.y), (br.x, br.y))) / 2
    vertical = (math.dist((tl.x, tl.y), (bl.x, bl.y)) + math.dist((tr.x, tr.y), (br.x, br.y))) / 2
    return (horizontal / columns + vertical / rows) / 2


class Decoder(Protocol):
    """Reads the first DataMatrix in a greyscale frame; ``None`` when nothing reads."""

    name: str

    def decode(self, image: GreyImage) -> Decoded | None: ...


class DecoderKind(StrEnum):
    """Which decoder to use (the ``decoder`` setting): ``ladder`` (zxing-cpp step by step,
    then libdmtx, see :mod:`edge.vision.ladder`), or one library alone."""

    LADDER = "ladder"
    ZXING = "zxing"
    LIBDMTX = "libdmtx"


DecoderFactory = Callable[[], Decoder]


def _zxing() -> Decoder:
    from edge.vision.zxing_decoder import ZxingDecoder

    return ZxingDecoder()


def _libdmtx() -> Decoder:
    from edge.vision.libdmtx_decoder import LibdmtxDecoder

    return LibdmtxDecoder()


def _ladder() -> Decoder:
    from edge.vision.ladder import DecodingLadder

    return DecodingLadder()


DECODERS: dict[DecoderKind, DecoderFactory] = {
    DecoderKind.LADDER: _ladder,
    DecoderKind.ZXING: _zxing,
    DecoderKind.LIBDMTX: _libdmtx,
}
"""Registry of decoders with their default settings, keyed by :class:`DecoderKind`."""


def decoder_kind(value: str) -> DecoderKind:
    """The :class:`DecoderKind` named by a configuration value, or :class:`ConfigError`."""
    try:
        return DecoderKind(value)
    except ValueError:
        expected = ", ".join(repr(kind.value) for kind in DecoderKind)
        raise ConfigError(f"decoder: expected one of {expected}, got {value!r}") from None


def make_decoder(kind: DecoderKind | str) -> Decoder:
    """A decoder of the given kind with its default settings."""
    return DECODERS[decoder_kind(kind)]()
