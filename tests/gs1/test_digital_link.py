"""GS1 Digital Link to the letter: the standard's examples, its prohibitions, and building."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import (
    CheckDigitError,
    Element,
    FormatError,
    Gs1Error,
    NotGs1Error,
    RuleError,
    check_rules,
    digital_link_from_elements,
    parse_digital_link,
    read,
)

E = Element

# Examples of the GS1 Digital Link standard (URI Syntax), as GS1's reference parser tests them.
STANDARD_EXAMPLES = [
    ("https://id.gs1.org/01/09520123456788", [E("01", "09520123456788")]),
    ("https://id.gs1.org/01/09520123456788/22/2A", [E("01", "09520123456788"), E("22", "2A")]),
    ("https://id.gs1.org/01/09520123456788/10/ABC123",
     [E("01", "09520123456788"), E("10", "ABC123")]),
    ("https://id.gs1.org/01/09520123456788/21/12345",
     [E("01", "09520123456788"), E("21", "12345")]),
    ("https://id.gs1.org/01/09520123456788/10/ABC1/21/12345?17=180426",
     [E("01", "09520123456788"), E("10", "ABC1"), E("21", "12345"), E("17", "180426")]),
    ("https://id.gs1.org/01/09520123456788?3103=000195",
     [E("01", "09520123456788"), E("3103", "000195")]),
    ("https://example.com/01/09520123456788?3103=000195&3922=0299&17=201225",
     [E("01", "09520123456788"), E("3103", "000195"), E("3922", "0299"), E("17", "201225")]),
    ("https://id.gs1.org/00/952012345678912345", [E("00", "952012345678912345")]),
    ("https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123",
     [E("00", "952012345678912345"), E("02", "09520123456788"), E("37", "25"),
      E("10", "ABC123")]),
    ("https://id.gs1.org/414/9520123456788", [E("414", "9520123456788")]),
    ("https://id.gs1.org/414/9520123456788/254/32a%2Fb",
     [E("414", "9520123456788"), E("254", "32a/b")]),
    ("https://example.com/8004/9520614141234567?01=9520123456788",
     [E("8004", "9520614141234567"), E("01", "09520123456788")]),
    ("https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123",
     [E("01", "09520123456788"), E("235", "XYZ"), E("10", "ABC123")]),
    ("https://a/00/faux/00/006141411234567890", [E("00", "006141411234567890")]),
    ("https://a/stem/401/12345678?99=ABC", [E("401", "12345678"), E("99", "ABC")]),
    ("https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ%2f987",
     [E("01", "12312312312333"), E("22", "ABC-123"), E("99", "ABC"), E("98", "XYZ/987")]),
    ("https://a/01/12312312312333/22/ABC+123", [E("01", "12312312312333"), E("22", "ABC+123")]),
    ("https://a/01/12312312312333?&&99=ABC&singleton&unknown=666&98=XYZ#frag",
     [E("01", "12312312312333"), E("99", "ABC"), E("98", "XYZ")]),
    ("HTTPS://a:65535/01/12312312312333", [E("01", "12312312312333")]),
    ("https://[2001:db8::1]/01/12312312312333", [E("01", "12312312312333")]),
    ("https://192.0.2.1/01/12312312312333", [E("01", "12312312312333")]),
    ("https://xn--fsq.xn--0zwm56d/8018/123456789012345675/8019/123",
     [E("8018", "123456789012345675"), E("8019", "123")]),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "elements"), STANDARD_EXAMPLES)
def test_standard_examples(uri: str, elements: list[Element]) -> None:
    link = parse_digital_link(uri)
    assert list(link.elements) == elements
    check_rules(link.elements)


def test_other_parameters_and_stem_are_kept() -> None:
    link = parse_digital_link(
        "https://example.com/some/stem/01/09520123456788?linkType=gs1:pip&17=201225&x"
    )
    assert link.stem == "https://example.com/some/stem"
    assert link.other_parameters == (("linkType", "gs1:pip"), ("x", None))


REFUSED = [
    ("https://example.com/01/09520123456788?10=ABC123", RuleError,
     "digital_link: expected key qualifier AI (10) in the path, not in the query, "
     "got 'https://example.com/01/09520123456788?10=ABC123'"),
    ("https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&01=09520123456788", RuleError,
     None),
    ("https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&10=ABC123", RuleError, None),
    ("https://id.gs1.org/01/09520123456788?99=A&99=A", RuleError,
     "digital_link: expected AI (99) once, got AI (99) twice in "
     "'https://id.gs1.org/01/09520123456788?99=A&99=A'"),
    ("https://a/01/12312312312333?99=", FormatError,
     "digital_link: expected a value for AI (99) in the query, got '99='"),
    ("https://a/01/12312312312333?99=ABC&999=faux", FormatError,
     "digital_link: expected numeric query parameters that are GS1 Application Identifiers, "
     "got '999' in 'https://a/01/12312312312333?99=ABC&999=faux'"),
    ("https://a/01/12312312312333?21=ABC", RuleError,
     "digital_link: expected only Digital Link data attributes in the query; AI (21) is not "
     "one, got 'https://a/01/12312312312333?21=ABC'"),
    ("https://brand.example.com/01/9520123456788", FormatError,
     "gtin: expected 14 digits in a Digital Link path (a GTIN-8, -12 or -13 is written with "
     "leading zeros), got '9520123456788'"),
    ("https://a/01/09520123456788/21/A/10/B", RuleError, None),
    ("https://a/01/09520123456788/22/A/235/B", RuleError, None),
    ("https://a/01/12312312312333/22/ABC%2d123?98=XYZ+987", FormatError, None),
    ("https://a/stem/00/006141411234567890/", FormatError, None),
    ("https://a/01/09520123456788/10/", FormatError, None),
    ("https://a/01/09520123456789", CheckDigitError,
     "gtin: expected check digit 8, got 9 in '09520123456789'"),
    ("HtTp://a/01/12312312312333", NotGs1Error, None),
    ("https://00/006141411234567890", NotGs1Error, None),
    ("https://a/b", NotGs1Error, None),
    ("ftp://a/01/12312312312333", NotGs1Error, None),
    ("https://$a/01/12312312312333", FormatError, None),
    ("https://user@a/01/12312312312333", FormatError, None),
    ("https://[fe80::1%25lo]/01/12312312312333", FormatError, None),
    ("https://a:99999/01/12312312312333", FormatError, None),
    ("https://a/01/12312312312333/22/A%zz", FormatError, None),
    ("https://a/01/12312312312333/22/A%00", FormatError, None),
    ("https://a/01/12312312312333/22/A B", FormatError, None),
    ("https://a/01/12312312312333/22/Aé", FormatError, None),
    ("https://a/01/12312312312333/89/ABC", NotGs1Error, None),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "error", "message"), REFUSED)
def test_refused(uri: str, error: type[Gs1Error], message: str | None) -> None:
    with pytest.raises(error) as excinfo:
        parse_digital_link(uri)
    if message is not None:
        assert str(excinfo.value) == message


def test_association_rules_apply_to_digital_links() -> None:
    with pytest.raises(RuleError, match="association rule ex=255,37"):
        read("https://id.gs1.org/01/09520123456788?255=5412345000150")


def test_legacy_forms_only_when_asked() -> None:
    uri = "https://id.gs1.org/gtin/9520123456788/ser/S1"
    with pytest.raises(NotGs1Error):
        parse_digital_link(uri)
    assert parse_digital_link(uri, legacy=True).elements == (
        E("01", "09520123456788"),
        E("21", "S1"),
    )


def test_building_refuses_what_it_cannot_express() -> None:
    elements = [
        E("01", "12312312312326"), E("22", "ABC"), E("10", "DEF"), E("99", "000001"),
        E("235", "TPX9526064"), E("95", "INT"),
    ]  # fmt: skip
    with pytest.raises(RuleError) as excinfo:
        digital_link_from_elements(elements, "https://example.com")
    assert str(excinfo.value) == (
        "digital_link: expected AIs a Digital Link with primary key AI (01) can carry, "
        "got AI (235) cannot be expressed"
    )


@pytest.mark.parametrize(
    ("elements", "uri"),
    [
        ([E("01", "12312312312326"), E("22", "ABC"), E("10", "DEF"), E("99", "000001")],
         "https://example.com/01/12312312312326/22/ABC/10/DEF?99=000001"),
        ([E("01", "12312312312326"), E("235", "T/1"), E("10", "L")],
         "https://example.com/01/12312312312326/235/T%2F1?10=L"),
        ([E("00", "952012345678912345"), E("02", "09520123456788"), E("37", "25")],
         "https://example.com/00/952012345678912345?02=09520123456788&37=25"),
    ],
)  # fmt: skip
def test_building(elements: list[Element], uri: str) -> None:
    built = digital_link_from_elements(elements, "https://example.com")
    assert built == uri
    assert sorted(parse_digital_link(built).elements) == sorted(elements)


def test_building_without_a_key_is_refused() -> None:
    with pytest.raises(RuleError, match="primary key"):
        digital_link_from_elements([E("10", "L")])


@given(st.text(max_size=80))
def test_hostile_uris_raise_only_gs1_errors(tail: str) -> None:
    with contextlib.suppress(Gs1Error):
        parse_digital_link("https://id.gs1.org/01/09520123456788" + tail)
