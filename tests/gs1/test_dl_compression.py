"""Compressed GS1 Digital Links: GS1's toolkit vectors, round trips, hostile segments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import (
    Element,
    NotGs1Error,
    UnitCode,
    compress_digital_link,
    parse_digital_link,
    read,
)
from gs1.dl_compression import compress_elements, decompress_segment, formats
from tests.gs1.strategies import unit_codes

# Produced by GS1's GS1DigitalLinkToolkit (digital-link.js 1.4.3) with optimisations on.
TOOLKIT_VECTORS = [
    ("https://id.gs1.org/01/09506000134352", "ARFKk4XBoA"),
    ("https://id.gs1.org/01/09506000134352/10/LOT2611/21/A1B2C3?17=281130",
     "GhFKk4XBoM5Zye3WuqJRUjUNlhg"),
    ("https://id.gs1.org/01/09520123456788/10/ABC1/21/12345?17=180426", "GhFRJydaKIlXglgZQKMDk"),
    ("https://id.gs1.org/01/05412345000013/10/ABC123/21/12345?17=180426",
     "GgnYUc1gmo1XgkZYGUCjA5"),
    ("https://id.gs1.org/414/9520123456788/254/32a%2Fb", "nYVmywr8UVEnJ1oo"),
    ("https://id.gs1.org/01/09520123456788/21/abcdef0123", "DBFRJydaKFVXm94CRg"),
    ("https://id.gs1.org/01/09520123456788/21/ABCDEF0123", "DBFRJydaKJVXm94CRg"),
    ("https://id.gs1.org/01/09520123456788/21/Ab_-z9", "DBFRJydaKMwDf_2fo"),
    ("https://id.gs1.org/01/09520123456788/21/A%2FB!", "DBFRJydaKQkFfCQg"),
    ("https://id.gs1.org/01/09520123456788/22/2A/10/ABC/21/007", "ChFRJydaKIRUIIdXhCBgO"),
    ("https://id.gs1.org/01/09520123456788?3103=000195&3922=0299&17=201225",
     "LRFRJydaKAAYYuYkEnJEgJW"),
    ("https://id.gs1.org/01/09520123456788?30=12", "DxFRJydaKEM"),
]  # fmt: skip
UNOPTIMISED = [
    ("https://id.gs1.org/01/05412345000013/10/ABC123/21/12345?17=180426",
     "AQnYUc1gmiCNV4JGLlgZRCCjA5"),
    ("https://id.gs1.org/01/09506000134352/10/LOT2611/21/A1B2C3?17=281130",
     "ARFKk4XBoCDOWcnt1rqLolFRCjUNlhg"),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "segment"), TOOLKIT_VECTORS)
def test_compression_matches_gs1s_toolkit(uri: str, segment: str) -> None:
    elements = parse_digital_link(uri).elements
    assert compress_elements(elements) == segment
    assert compress_digital_link(elements) == f"https://id.gs1.org/{segment}"
    assert sorted(decompress_segment(segment)[0]) == sorted(elements)
    compressed = parse_digital_link(f"https://example.com/{segment}")
    assert compressed.compressed and sorted(compressed.elements) == sorted(elements)


@pytest.mark.parametrize(("uri", "segment"), UNOPTIMISED)
def test_unoptimised_compression_matches_gs1s_toolkit(uri: str, segment: str) -> None:
    assert compress_elements(parse_digital_link(uri).elements, optimise=False) == segment


def test_long_numbers_are_exact() -> None:
    # GS1's JavaScript toolkit rounds numbers above 2**53; an SSCC must survive.
    sscc = Element("00", "106141412345678908")
    segment = compress_elements([sscc])
    assert decompress_segment(segment)[0] == (sscc,)
    assert read(f"https://id.gs1.org/{segment}").code.value == "106141412345678908"  # type: ignore[union-attr]


def test_partially_compressed() -> None:
    rest = compress_elements([Element("10", "LOT2611"), Element("21", "A1B2C3")])
    link = parse_digital_link(f"https://id.gs1.org/01/09506000134352/{rest}?linkType=all")
    assert link.path == (
        Element("01", "09506000134352"), Element("10", "LOT2611"), Element("21", "A1B2C3"),
    )  # fmt: skip
    assert link.other_parameters == (("linkType", "all"),)


def test_layouts_follow_the_toolkit() -> None:
    assert formats("8006") == (("N", False, 18),)
    assert formats("423") == (("N", False, 3), ("N", True, 12))
    assert formats("253") == (("N", False, 13), ("X", True, 17))
    assert formats("7230") == (("X", True, 30),)
    assert formats("8008") == (("N", False, 8), ("N", True, 4))


@given(code=unit_codes())
def test_unit_codes_round_trip_through_compression(code: UnitCode) -> None:
    uri = compress_digital_link(code.elements())
    assert read(uri).code == code


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/about",
        "https://example.com/things/42",
        "https://example.com/ABCD",
        "https://example.com/" + "A" * 2000,
        "https://example.com/GhFKk4XBpM5Zye3WuqJRUjUNlhg",  # GTIN bits changed: bad check digit
    ],
)
def test_segments_that_are_no_compressed_digital_link(uri: str) -> None:
    with pytest.raises(NotGs1Error):
        parse_digital_link(uri)


@given(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60).filter(
        bool
    )
)
def test_random_segments_raise_only_not_gs1(segment: str) -> None:
    try:
        link = parse_digital_link("https://example.com/x/" + segment)
    except NotGs1Error:
        return
    assert link.path
