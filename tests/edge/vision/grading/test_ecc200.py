"""The ECC 200 structure the reference decode uses, checked against symbols zxing-cpp makes:
every size's fixed pattern and module placement, Reed-Solomon blocks and data encodation."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest
import zxingcpp

from edge.vision.grading import ecc200
from simulators.camera.symbols import symbol_modules

RNG = random.Random(19)


def _content(kind: str, length: int) -> str:
    alphabet = {
        "digits": string.digits,
        "upper": string.ascii_uppercase + string.digits,
        "mixed": string.ascii_letters + string.digits + " .-/+*:#",
    }[kind]
    return "".join(RNG.choice(alphabet) for _ in range(length))


CONTENTS = [
    *[("digits", n) for n in (1, 6, 10, 20, 40, 80, 160, 400, 1000, 2000, 3000)],
    *[("upper", n) for n in (3, 9, 15, 25, 33, 60, 120, 300, 700)],
    *[("mixed", n) for n in (5, 12, 30, 70, 200, 500, 1100)],
]


def _symbol(content: str, *, gs1: bool) -> tuple[np.ndarray, str]:
    barcode = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.DataMatrix, gs1=gs1)
    modules = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) < 128
    read = zxingcpp.read_barcodes(
        np.asarray(barcode.to_image(scale=4)), text_mode=zxingcpp.TextMode.Plain
    )
    return modules, read[0].text


def _check(modules: np.ndarray, text: str, *, gs1: bool) -> ecc200.SymbolSize:
    size = ecc200.size_of(*modules.shape)
    assert size is not None, modules.shape
    fixed = ecc200.fixed_pattern(size)
    known = fixed != ecc200.FIXED_DATA
    assert np.array_equal(modules[known], fixed[known] == 1)
    for row, column in ecc200.unplaced_corner(size):
        assert modules[row, column] == bool(ecc200.unplaced_corner_colour(size, row, column))
    correction = ecc200.correct(size, ecc200.codewords_from(size, modules))
    assert correction.ok and all(block.errors == 0 for block in correction.blocks)
    message = ecc200.decode_data(correction.data)
    assert message.gs1 is gs1
    assert message.text == text or message.text.encode("latin-1").decode("utf-8") == text
    return size


@pytest.mark.parametrize(("kind", "length"), CONTENTS)
def test_placement_blocks_and_data_of_zxing_symbols(kind: str, length: int) -> None:
    content = _content(kind, length)
    modules, text = _symbol(content, gs1=False)
    _check(modules, text, gs1=False)


@pytest.mark.parametrize("serial_length", [1, 4, 8, 12, 16, 18, 20])
def test_gs1_symbols_including_dmre(serial_length: int) -> None:
    serial = _content("upper", serial_length)
    modules = symbol_modules(f"(01)09506000134352(21){serial}")
    _, text = _symbol(f"(01)09506000134352(21){serial}", gs1=True)
    size = _check(modules, text, gs1=True)
    if serial_length == 18:  # zxing-cpp chooses a DMRE size for this one
        assert size.dmre and size.name == "8x64"


def test_every_size_of_the_standards_tables() -> None:
    assert len(ecc200.SIZES) == 24 + 6 + 18
    for size in ecc200.SIZES.values():
        codeword, bit = ecc200.placement(size)
        placed = codeword >= 0
        # every codeword gets exactly eight modules, one per bit
        counts = np.bincount(codeword[placed], minlength=size.total_codewords)
        assert (counts == 8).all(), size.name
        for index in range(size.total_codewords):
            assert sorted(bit[codeword == index]) == list(range(8))
        # the blocks cover every codeword once
        layout = sorted(i for block in ecc200.block_layout(size) for i in block)
        assert layout == list(range(size.total_codewords))


def test_144x144_has_two_shorter_blocks() -> None:
    size = ecc200.SIZES[(144, 144)]
    lengths = [len(block) for block in ecc200.block_layout(size)]
    assert lengths == [156 + 62] * 8 + [155 + 62] * 2


@pytest.mark.parametrize(
    ("codewords", "text", "gs1"),
    [
        ([66, 67, 129], "AB", False),  # ASCII, then a pad
        ([142, 164, 186], "123456", False),  # digit pairs (ISO/IEC 16022 Annex O)
        ([232, 131], "01", True),  # FNC1 first: GS1 data; 131 -> "01"
        ([233, 42, 1, 1, 232, 131], "01", True),  # after Structured Append: fifth position
        ([233, 42, 1, 1, 66, 232, 67], "AB", False),  # sixth: AIM, not GS1
        ([66, 232, 67], "AB", False),  # FNC1 second: AIM indicator (]d3), not transmitted
        ([66, 67, 232, 68], "AB\x1dC", False),  # FNC1 later: GS
        ([235, 66], chr(65 + 128), False),  # upper shift
    ],
)
def test_data_codewords(codewords: list[int], text: str, gs1: bool) -> None:
    message = ecc200.decode_data(codewords)
    assert (message.text, message.gs1) == (text, gs1)


@pytest.mark.parametrize(
    ("codewords", "message"),
    [
        ([255], "codeword 0: expected a valid ASCII-mode value, got 255"),
        ([241], "ECI: expected a designator, got the end of the data"),
        ([231], "Base 256: expected a length, got the end of the data"),
        ([231, 49, 1], "Base 256: expected 5 bytes, got 1"),  # 49 = 5 + pseudo-random 44
    ],
)
def test_bad_data_codewords_are_data_errors(codewords: list[int], message: str) -> None:
    with pytest.raises(ecc200.DataError) as caught:
        ecc200.decode_data(codewords)
    assert str(caught.value) == message


def test_unknown_size_is_none() -> None:
    assert ecc200.size_of(23, 23) is None
    assert ecc200.size_of(22, 22) is not None
