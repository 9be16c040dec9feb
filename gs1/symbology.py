"""Symbology identifiers (ISO/IEC 15424) and what the data after each one is, for GS1.

A scanner (or decoder) that transmits symbology identifiers puts ``]`` + symbology code +
modifier in front of the data. GS1 General Specifications 5.1.2 (and the symbology standards:
ISO/IEC 15417 Code 128, 15420 EAN/UPC, 16022 Data Matrix, 21471 DMRE, 18004 QR Code, 24724
GS1 DataBar, 15416/16390 ITF, AIM DotCode) say which carry GS1 data and how:

* ``AI_DATA``: FNC1 in first position, element strings follow (GS separates fields):
  ``]C1`` GS1-128, ``]e0`` GS1 DataBar and GS1 Composite, ``]d2`` GS1 DataMatrix (``]d5``
  with ECI), ``]d8`` GS1 DMRE (``]dB`` with ECI), ``]Q3`` GS1 QR Code (``]Q4`` with ECI),
  ``]J1`` GS1 DotCode;
* ``GTIN``: EAN/UPC and ITF-14 carry only digits: ``]E0`` EAN-13, UPC-A and UPC-E as 13
  digits, ``]E4`` EAN-8 as 8 digits, ``]E3`` EAN-13/UPC with its add-on as 15 or 18 digits,
  ``]I1`` ITF-14 (check digit verified) as 14 digits;
* ``ADD_ON``: ``]E1`` a 2-digit, ``]E2`` a 5-digit add-on on its own (no GS1 key);
* ``PLAIN``: data with no FNC1 (``]d1``, ``]d4``, ``]d7``, ``]dA``, ``]Q0``-``]Q2``, ``]J0``):
  GS1 only when it is a GS1 Digital Link URI;
* everything else (``]C0`` Code 128, ``]d3``/``]d6``/``]d9``/``]dC`` FNC1 in second position,
  ``]d0`` ECC 000-140, ``]A0`` Code 39, …) is not GS1 data and is reported as such, never
  guessed.

Data Matrix modifiers (ISO/IEC 16022:2006 Annex N, Table N.1): ``1`` ECC 200, ``2`` FNC1 in
first (or, after a Structured Append header, fifth) position, ``3`` FNC1 in second (or sixth)
position; ``4``, ``5``, ``6`` the same with the ECI protocol. A Rectangular Extension symbol
(DMRE, ISO/IEC 21471) adds 6: ``7``, ``8``, ``9`` and, with ECI, ``A``, ``B``, ``C``. The
DMRE values are zxing-cpp's (its ``DMDecodeTest.DMRESymbologyIdentifier``, written from
ISO/IEC 21471:2020, whose text is not public); zxing-cpp 3 sends ``]d8`` for a GS1 DMRE and,
in its ECI text mode, ``]d5`` / ``]dB`` for GS1 data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Content(StrEnum):
    AI_DATA = "ai_data"
    GTIN = "gtin"
    ADD_ON = "add_on"
    PLAIN = "plain"
    NOT_GS1 = "not_gs1"


@dataclass(frozen=True, slots=True)
class Symbology:
    identifier: str  # "]d2"
    name: str
    content: Content
    digits: tuple[int, ...] = ()  # the exact digit counts of GTIN and ADD_ON data

    @property
    def gs1(self) -> bool:
        """True if the data is GS1 AI data or a GS1 key (not plain text)."""
        return self.content in (Content.AI_DATA, Content.GTIN)


_TABLE = (
    Symbology("]C1", "GS1-128", Content.AI_DATA),
    Symbology("]e0", "GS1 DataBar / GS1 Composite", Content.AI_DATA),
    Symbology("]d2", "GS1 DataMatrix (FNC1 in first position)", Content.AI_DATA),
    Symbology("]d5", "GS1 DataMatrix with ECI", Content.AI_DATA),
    Symbology("]d8", "GS1 DataMatrix DMRE (FNC1 in first position)", Content.AI_DATA),
    Symbology("]dB", "GS1 DataMatrix DMRE with ECI", Content.AI_DATA),
    Symbology("]Q3", "GS1 QR Code (FNC1 in first position)", Content.AI_DATA),
    Symbology("]Q4", "GS1 QR Code with ECI", Content.AI_DATA),
    Symbology("]J1", "GS1 DotCode (FNC1 in first position)", Content.AI_DATA),
    Symbology("]E0", "EAN-13, UPC-A or UPC-E", Content.GTIN, (13,)),
    Symbology("]E3", "EAN-13, UPC-A or UPC-E with add-on", Content.GTIN, (15, 18)),
    Symbology("]E4", "EAN-8", Content.GTIN, (8,)),
    Symbology("]I1", "ITF-14 (check digit verified)", Content.GTIN, (14,)),
    Symbology("]E1", "two-digit add-on", Content.ADD_ON, (2,)),
    Symbology("]E2", "five-digit add-on", Content.ADD_ON, (5,)),
    Symbology("]d1", "Data Matrix", Content.PLAIN),
    Symbology("]d4", "Data Matrix with ECI", Content.PLAIN),
    Symbology("]d7", "Data Matrix DMRE", Content.PLAIN),
    Symbology("]dA", "Data Matrix DMRE with ECI", Content.PLAIN),
    Symbology("]Q0", "QR Code model 1", Content.PLAIN),
    Symbology("]Q1", "QR Code", Content.PLAIN),
    Symbology("]Q2", "QR Code with ECI", Content.PLAIN),
    Symbology("]J0", "DotCode", Content.PLAIN),
)
SYMBOLOGIES: dict[str, Symbology] = {entry.identifier: entry for entry in _TABLE}
"""Every symbology identifier GS1 data (or a Digital Link) can come with."""

_IDENTIFIER = re.compile(r"\][A-Za-z][0-9A-Za-z]")


def identify(identifier: str) -> Symbology:
    """The :class:`Symbology` of ``]cm``; a well-formed identifier of any other symbology
    is :attr:`Content.NOT_GS1`."""
    entry = SYMBOLOGIES.get(identifier)
    if entry is not None:
        return entry
    return Symbology(identifier, "a symbology without GS1 data", Content.NOT_GS1)


def split_identifier(data: str) -> tuple[str | None, str]:
    """(``]cm`` or None, the rest) of scanned data; None when it starts with no identifier."""
    if _IDENTIFIER.match(data):
        return data[:3], data[3:]
    return None, data


def is_gs1_ai_data(identifier: str) -> bool:
    """Whether data after ``identifier`` is GS1 element strings (FNC1 in first position):
    ``]d2``, ``]d5``, ``]d8``, ``]dB``, ``]C1``, ``]e0``, ``]Q3``, ``]Q4``, ``]J1``."""
    return identify(identifier).content is Content.AI_DATA
