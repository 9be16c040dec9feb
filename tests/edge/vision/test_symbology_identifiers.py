"""Which Data Matrix symbology identifiers are GS1: every modifier, on symbols built codeword
by codeword (ISO/IEC 16022 placement and Reed-Solomon, from the grader's ECC 200 module) and
read back by zxing-cpp, square and DMRE, with and without FNC1 and ECI."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp

from edge.vision import Grader, Verifier
from edge.vision.decoding import GS1_DATAMATRIX_IDENTIFIERS, Decoded, Point
from edge.vision.grading import ecc200
from edge.vision.grading.reedsolomon import encode_block
from edge.vision.quality import QualityThresholds
from edge.vision.verify import Outcome
from edge.vision.zxing_decoder import ZxingDecoder, read
from gs1 import UnitCode

FNC1, ECI, PAD = 232, 241, 129
ECI_UTF8 = (ECI, 27)  # ECI 000026 (UTF-8): designator codeword = ECI number + 1


def _pads(data: list[int], capacity: int) -> list[int]:
    """ISO/IEC 16022 5.2.3: a first pad of 129, then 253-state randomised pads."""
    out = list(data)
    if len(out) < capacity:
        out.append(PAD)
    while len(out) < capacity:
        value = PAD + (149 * (len(out) + 1)) % 253 + 1
        out.append(value if value <= 254 else value - 254)
    return out


def symbol_of(rows: int, columns: int, data: list[int], *, module_px: int = 6) -> np.ndarray:
    """An 8-bit image of the ECC 200 symbol carrying the data codewords ``data``, with a
    four-module quiet zone."""
    size = ecc200.SIZES[rows, columns]
    codewords = _pads(data, size.data_codewords) + [0] * size.ec_codewords
    for indexes in ecc200.block_layout(size):
        count = len(indexes) - size.ec_per_block
        ec = encode_block([codewords[i] for i in indexes[:count]], size.ec_per_block)
        for i, value in zip(indexes[count:], ec, strict=True):
            codewords[i] = value
    codeword, bit = ecc200.placement(size)
    dark = ecc200.fixed_pattern(size) == 1
    used = codeword >= 0
    dark[used] = ((np.asarray(codewords)[codeword[used]] >> bit[used]) & 1).astype(bool)
    for row, column in ecc200.unplaced_corner(size):
        dark[row, column] = bool(ecc200.unplaced_corner_colour(size, row, column))
    image = np.where(dark, 0, 255).astype(np.uint8)
    image = np.kron(image, np.ones((module_px, module_px), dtype=np.uint8))
    return np.pad(image, 4 * module_px, constant_values=255)


def ascii_codewords(text: str) -> list[int]:
    """ISO/IEC 16022 ASCII encodation: a digit pair is 130 + its value, others ASCII + 1."""
    out: list[int] = []
    i = 0
    while i < len(text):
        if text[i : i + 2].isdigit() and len(text[i : i + 2]) == 2:
            out.append(130 + int(text[i : i + 2]))
            i += 2
        else:
            out.append(ord(text[i]) + 1)
            i += 1
    return out


UNIT = UnitCode.create(gtin="09506000134352", serial="S1")
UNIT_DATA = ascii_codewords(UNIT.element_string())
AB = [ord("A") + 1, ord("B") + 1]

# data codewords; zxing-cpp's identifier in its plain text mode (no ECI modifier) and in its
# ECI text mode (prefixed to the text, always with the ECI modifier); GS1 or not
CASES = {
    "plain": (AB, "]d1", "]d4", False),
    "FNC1 first": ([FNC1, *UNIT_DATA], "]d2", "]d5", True),
    "FNC1 second": ([AB[0], FNC1, AB[1]], "]d3", "]d6", False),
    "ECI": ([*ECI_UTF8, *AB], "]d1", "]d4", False),
    "FNC1 first, ECI": ([FNC1, *ECI_UTF8, *UNIT_DATA], "]d2", "]d5", True),
    "FNC1 second, ECI": ([AB[0], FNC1, *ECI_UTF8, AB[1]], "]d3", "]d6", False),
    # FNC1 after an ECI is not in first position: a GS, not GS1 (as GS1 requires FNC1 first)
    "ECI, then FNC1": ([*ECI_UTF8, FNC1, *UNIT_DATA], "]d1", "]d4", False),
}
SIZES = {"square 18x18": (18, 18), "DMRE 8x64": (8, 64)}
DMRE_SHIFT = 6  # zxing-cpp: a DMRE symbol's modifier is the square one's + 6 (7-9, A-C)


def _dmre(identifier: str) -> str:
    value = int(identifier[2], 16) + DMRE_SHIFT
    return identifier[:2] + "0123456789ABC"[value]


def _expected(size: str, identifier: str) -> str:
    return _dmre(identifier) if size.startswith("DMRE") else identifier


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_zxing_identifier_and_is_gs1(size: str, case: str) -> None:
    data, plain_id, _, gs1 = CASES[case]
    decoded = read(symbol_of(*SIZES[size], data))
    assert decoded is not None
    assert decoded.symbology_identifier == _expected(size, plain_id)
    assert (decoded.rows, decoded.columns) == SIZES[size]
    assert decoded.is_gs1 is gs1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_zxing_eci_text_mode_identifier_is_gs1_when_fnc1_is_first(size: str, case: str) -> None:
    """zxing-cpp's ECI text mode sends the ECI modifiers (]d4-]d6, DMRE ]dA-]dC), as a
    scanner transmitting ECI does: ]d5 and ]dB are GS1, the others not."""
    data, _, eci_id, gs1 = CASES[case]
    barcodes = zxingcpp.read_barcodes(
        symbol_of(*SIZES[size], data),
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix),
        text_mode=zxingcpp.TextMode.ECI,
    )
    identifier = barcodes[0].text[:3]
    assert identifier == _expected(size, eci_id)
    assert _decoded(identifier).is_gs1 is gs1


@pytest.mark.parametrize("size", SIZES)
def test_gs1_symbols_verify_whatever_the_modifier(size: str) -> None:
    verifier = Verifier(ZxingDecoder(), QualityThresholds(enforce=False))
    for case in ("FNC1 first", "FNC1 first, ECI"):
        result = verifier.verify(symbol_of(*SIZES[size], CASES[case][0]), UNIT)
        assert result.outcome is Outcome.OK, (case, result.error)


MODIFIERS = {
    "]d0": False,  # ECC 000-140
    "]d1": False,
    "]d2": True,  # FNC1 in first position
    "]d3": False,  # FNC1 in second position (AIM application indicator)
    "]d4": False,  # ECI
    "]d5": True,  # FNC1 in first position + ECI
    "]d6": False,
    "]d7": False,  # DMRE
    "]d8": True,  # DMRE, FNC1 in first position
    "]d9": False,
    "]dA": False,  # DMRE + ECI
    "]dB": True,  # DMRE, FNC1 in first position + ECI
    "]dC": False,
}


@pytest.mark.parametrize(("identifier", "gs1"), MODIFIERS.items())
def test_each_modifier(identifier: str, gs1: bool) -> None:
    assert _decoded(identifier).is_gs1 is gs1
    assert (identifier in GS1_DATAMATRIX_IDENTIFIERS) is gs1


def _decoded(identifier: str) -> Decoded:
    corners = (Point(0, 0), Point(1, 0), Point(1, 1), Point(0, 1))
    return Decoded(identifier, "", corners, 18, 18, 1.0, "test")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_the_grader_s_reference_decode_agrees_with_zxing(size: str, case: str) -> None:
    """FNC1 in first (GS1) or second (AIM) position is not data; the reference decode reads
    what zxing-cpp reads, so every case grades A (Decode passes)."""
    image = symbol_of(*SIZES[size], CASES[case][0])
    decoded = read(image)
    assert decoded is not None
    report = Grader().grade(image, decoded)
    assert report.error is None and report.scan_grade == 4, report.error
