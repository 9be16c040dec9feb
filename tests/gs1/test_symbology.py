"""Symbology identifiers: exact digit counts, add-ons, and plain data reported as not GS1."""

from __future__ import annotations

import pytest

from gs1 import FormatError, NotGs1Error, UnitCode, is_gs1_ai_data, read
from gs1.symbology import SYMBOLOGIES, Content, identify

UNIT = UnitCode.create(gtin="09506000134352", serial="S1")


@pytest.mark.parametrize(
    "identifier", ["]C1", "]e0", "]d2", "]d5", "]d8", "]dB", "]Q3", "]Q4", "]J1"]
)
def test_ai_data_symbologies(identifier: str) -> None:
    assert is_gs1_ai_data(identifier)
    assert read(identifier + "010950600013435221S1").code == UNIT


@pytest.mark.parametrize(
    ("data", "gtin", "add_on"),
    [
        ("]E09506000134352", "09506000134352", None),
        ("]E00012345678905", "00012345678905", None),
        ("]E495012346", "00000095012346", None),
        ("]I109506000134352", "09506000134352", None),
        ("]E3950600013435212", "09506000134352", "12"),
        ("]E3950600013435212345", "09506000134352", "12345"),
    ],
)
def test_gtin_symbologies(data: str, gtin: str, add_on: str | None) -> None:
    reading = read(data)
    assert (reading.code, reading.add_on) == (UnitCode.create(gtin=gtin), add_on)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("]E0950600013435", "data: expected 13 digits after ]E0 (EAN-13, UPC-A or UPC-E), "
         "got '950600013435'"),
        ("]E012345678901", None),
        ("]E40950600013435", None),
        ("]E39506000134352", None),
        ("]E395060001343521", None),
        ("]I1950600013435", None),
        ("]E1123", None),
    ],
)  # fmt: skip
def test_wrong_digit_counts(data: str, message: str | None) -> None:
    with pytest.raises(FormatError) as excinfo:
        read(data)
    assert not isinstance(excinfo.value, NotGs1Error)
    if message is not None:
        assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "data",
    [
        "]d10109506000134352",
        "]Q1hello",
        "]d7ABC",
        "]J0ABC",
        "]E112",
        "]E212345",
        "]C00109506000134352",
        "]d3010950600013435221S1",
        "]Q5ABC",
        "]A0ABC",
        "]Q1https://example.com/about",
    ],
)
def test_plain_and_foreign_data_is_not_gs1(data: str) -> None:
    with pytest.raises(NotGs1Error):
        read(data)


@pytest.mark.parametrize("identifier", ["]d1", "]d4", "]d7", "]dA", "]Q1", "]Q2", "]J0"])
def test_plain_data_digital_links(identifier: str) -> None:
    assert read(identifier + "https://id.gs1.org/01/09506000134352/21/S1").code == UNIT


def test_table() -> None:
    assert identify("]d8").content is Content.AI_DATA
    assert identify("]d7").content is Content.PLAIN
    assert identify("]X9").content is Content.NOT_GS1
    assert {s.identifier for s in SYMBOLOGIES.values() if s.gs1} == {
        "]C1", "]e0", "]d2", "]d5", "]d8", "]dB", "]Q3", "]Q4", "]J1", "]E0", "]E3", "]E4",
        "]I1",
    }  # fmt: skip


# ISO/IEC 16022:2006 Table N.1 (square and rectangular symbols) and the DMRE values
# (+6) zxing-cpp sends: only a modifier that signals FNC1 in first position is GS1 AI data.
DATA_MATRIX_MODIFIERS = [
    ("]d0", Content.NOT_GS1),  # ECC 000-140
    ("]d1", Content.PLAIN),  # ECC 200
    ("]d2", Content.AI_DATA),  # FNC1 in first (or fifth) position
    ("]d3", Content.NOT_GS1),  # FNC1 in second (or sixth) position: AIM, not GS1
    ("]d4", Content.PLAIN),  # ECI
    ("]d5", Content.AI_DATA),  # FNC1 in first position + ECI
    ("]d6", Content.NOT_GS1),  # FNC1 in second position + ECI
    ("]d7", Content.PLAIN),  # DMRE
    ("]d8", Content.AI_DATA),  # DMRE, FNC1 in first position
    ("]d9", Content.NOT_GS1),  # DMRE, FNC1 in second position
    ("]dA", Content.PLAIN),  # DMRE + ECI
    ("]dB", Content.AI_DATA),  # DMRE, FNC1 in first position + ECI
    ("]dC", Content.NOT_GS1),  # DMRE, FNC1 in second position + ECI
]


@pytest.mark.parametrize(("identifier", "content"), DATA_MATRIX_MODIFIERS)
def test_data_matrix_modifiers(identifier: str, content: Content) -> None:
    assert identify(identifier).content is content
    assert is_gs1_ai_data(identifier) is (content is Content.AI_DATA)
    if content is Content.AI_DATA:
        assert read(identifier + "010950600013435221S1").code == UNIT
    else:
        with pytest.raises(NotGs1Error):
            read(identifier + "010950600013435221S1")
