"""Reading every code form back, and hostile input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gs1 import (
    GS,
    CheckDigitError,
    CodeForm,
    Element,
    FormatError,
    Gln,
    Gs1Error,
    NotGs1Error,
    RuleError,
    Sscc,
    UnitCode,
    epc_uri,
    parse,
    parse_hri,
    read,
    sgln_uri,
    sscc_uri,
)
from gs1.elements import encode
from tests.gs1.strategies import company_prefix_lengths, cset82, glns, ssccs, unit_codes

CODE = UnitCode.create(gtin="9506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")


@given(code=unit_codes(), symbology=st.sampled_from(["", "]d2", "]C1", "]Q3", "]e0"]))
def test_element_string_round_trips(code: UnitCode, symbology: str) -> None:
    reading = read(symbology + code.element_string() + "\r\n")
    assert reading.code == code
    assert reading.form is CodeForm.ELEMENT_STRING
    assert reading.symbology_identifier == (symbology or None)


@given(code=unit_codes())
def test_datamatrix_data_with_leading_gs_round_trips(code: UnitCode) -> None:
    assert parse(code.datamatrix_data()) == code


@given(code=unit_codes(exclude="("))
def test_hri_round_trips(code: UnitCode) -> None:
    reading = read(code.hri())
    assert (reading.code, reading.form) == (code, CodeForm.HRI)


@given(
    code=unit_codes(),
    domain=st.sampled_from(["https://id.gs1.org", "https://example.com/dl", "http://127.0.0.1"]),
)
def test_digital_link_round_trips(code: UnitCode, domain: str) -> None:
    reading = read(code.digital_link(domain))
    assert (reading.code, reading.form) == (code, CodeForm.DIGITAL_LINK)


@given(code=unit_codes(with_extra=False), cpl=company_prefix_lengths)
def test_epc_uris_round_trip(code: UnitCode, cpl: int) -> None:
    if code.serial is not None:
        reading = read(code.sgtin_uri(cpl))
        assert reading.code == UnitCode(code.gtin, serial=code.serial)
        assert (reading.form, reading.company_prefix_length) == (CodeForm.EPC_URI, cpl)
        assert epc_uri(reading.code, cpl) == code.sgtin_uri(cpl)
    if code.lot is not None:
        reading = read(code.lgtin_uri(cpl))
        assert reading.code == UnitCode(code.gtin, lot=code.lot)
        assert epc_uri(reading.code, cpl) == code.lgtin_uri(cpl)


@given(sscc=ssccs, cpl=company_prefix_lengths)
def test_sscc_forms_round_trip(sscc: Sscc, cpl: int) -> None:
    for form in (
        sscc.value,
        sscc.element_string(),
        "]C1" + sscc.element_string(),
        sscc.hri(),
        sscc.digital_link(),
        sscc_uri(sscc, cpl),
    ):
        assert parse(form) == sscc


@given(gln=glns, cpl=company_prefix_lengths, extension=st.just("0") | cset82())
def test_gln_forms_round_trip(gln: Gln, cpl: int, extension: str) -> None:
    for form in (gln.element_string(), gln.hri(), gln.digital_link()):
        assert parse(form) == gln
    reading = read(sgln_uri(gln, cpl, extension))
    assert reading.code == gln
    expected_extension = () if extension == "0" else (Element("254", extension),)
    assert reading.elements == (Element("414", gln.value), *expected_extension)


def test_refdata_pharma_datamatrix_texts(refdata: Path) -> None:
    text = (refdata / "datamatrix" / "datamatrix-3" / "#794.txt").read_text()
    assert parse("]d2" + text) == UnitCode.create(
        gtin="08903819987659", serial="S1ND6MPPFCGG6B869XES", lot="BNav4Cam2", expiry="310630"
    )
    figure = read(
        (refdata / "datamatrix" / "datamatrix-1" / "gs1-figure-4.15.1-2-32x32.txt").read_text()
    )
    # Every AI of the dictionary is read: AI 8200 (product URL) is an extra of the unit.
    assert figure.elements[-1] == Element("8200", "http://www.gs1.org/demo/")
    assert figure.code == UnitCode.create(
        gtin="09504000059101",
        serial="12345678p901",
        lot="1234567p",
        expiry="141120",
        extra={"8200": "http://www.gs1.org/demo/"},
    )


@pytest.mark.parametrize(
    ("data", "form", "symbology", "code"),
    [
        ("09506000134352", CodeForm.KEY, None, UnitCode.create(gtin="9506000134352")),
        ("]E09506000134352", CodeForm.KEY, "]E0", UnitCode.create(gtin="9506000134352")),
        ("]E495012346", CodeForm.KEY, "]E4", UnitCode.create(gtin="95012346")),
        ("]I109506000134352", CodeForm.KEY, "]I1", UnitCode.create(gtin="9506000134352")),
        (
            "]J1010950600013435221S1",
            CodeForm.ELEMENT_STRING,
            "]J1",
            UnitCode.create(gtin="9506000134352", serial="S1"),
        ),
        (
            "]d8010950600013435221S1",
            CodeForm.ELEMENT_STRING,
            "]d8",
            UnitCode.create(gtin="9506000134352", serial="S1"),
        ),
        ("106141412345678908", CodeForm.KEY, None, Sscc("106141412345678908")),
        (
            "]d1https://id.gs1.org/01/09506000134352/21/A1B2C3",
            CodeForm.DIGITAL_LINK,
            "]d1",
            UnitCode.create(gtin="9506000134352", serial="A1B2C3"),
        ),
        (
            "https://example.com/01/09506000134352/10/LOT2611/21/A1B2C3?17=281130&utm=x",
            CodeForm.DIGITAL_LINK,
            None,
            CODE,
        ),
        ("(01) 09506000134352 (17) 281130 (10) LOT2611 (21) A1B2C3", CodeForm.HRI, None, CODE),
        ("010950600013435221A1B2C3\x1d1728113010LOT2611", CodeForm.ELEMENT_STRING, None, CODE),
        (
            "0010614141234567890802095060001343523712\x1d10L1",
            CodeForm.ELEMENT_STRING,
            None,
            Sscc("106141412345678908"),
        ),
        (
            "urn:epc:id:sgtin:9506000.013435.A%2fB",
            CodeForm.EPC_URI,
            None,
            UnitCode.create(gtin="9506000134352", serial="A/B"),
        ),
    ],
)
def test_read_forms(data: str, form: CodeForm, symbology: str | None, code: object) -> None:
    reading = read(data)
    assert (reading.form, reading.symbology_identifier, reading.code) == (form, symbology, code)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ("", FormatError, "data: expected a GS1 code, got ''"),
        (
            "(21)ABC",
            RuleError,
            "serial: expected AI (01) or (03) or (8006) with AI (21) "
            "(association rule req=01,03,8006), got AI (21) without them",
        ),
        (
            "(01)09506000134352(02)09506000134352(37)1",
            RuleError,
            "gtin: expected no AI (37) with AI (01) (association rule ex=255,37), "
            "got AI (01) and AI (37)",
        ),
        (
            "(01)09506000134352(21)A(21)B",
            RuleError,
            "serial: expected one value for AI (21), got 'A' and 'B'",
        ),
        (
            "(400)PO1",
            RuleError,
            "data: expected exactly one key: AI (01) GTIN, (00) SSCC or (414) GLN, got none",
        ),
        (
            "(00)106141412345678908(01)09506000134352",
            RuleError,
            "data: expected exactly one key: AI (01) GTIN, (00) SSCC or (414) GLN, "
            "got AI (01) and AI (00)",
        ),
        (
            "0109506000134353",
            CheckDigitError,
            "gtin: expected check digit 2, got 3 in '09506000134353'",
        ),
        (
            "09506000134353",
            CheckDigitError,
            "gtin: expected check digit 2, got 3 in '09506000134353'",
        ),
        (
            "]d2010950600013435217281131",
            FormatError,
            "expiry: expected a date as YYMMDD with day 00 to 30 for 2028-11, got '281131'",
        ),
        (
            "]A0123",
            NotGs1Error,
            "symbology_identifier: expected a symbology identifier of GS1 data: ]C1, ]e0, ]d2, "
            "]d5, ]d8, ]dB, ]Q3, ]Q4, ]J1 (AI data), ]E0, ]E3, ]E4, ]I1 (GTIN), ]d1, ]d4, ]d7, "
            "]dA, ]Q0, ]Q1, ]Q2, ]J0 (GS1 Digital Link), got ']A0'",
        ),
        (
            "]",
            FormatError,
            "symbology_identifier: expected ']' followed by a symbology code and modifier, got ']'",
        ),
        (
            "]E0ABC",
            FormatError,
            "data: expected 13 digits after ]E0 (EAN-13, UPC-A or UPC-E), got 'ABC'",
        ),
        (
            "urn:epc:id:sgtin:9506000.13435.A",
            FormatError,
            "epc_uri: expected company prefix and indicator and item reference of 13 digits "
            "together, got 7 + 5 digits in 'urn:epc:id:sgtin:9506000.13435.A'",
        ),
        (
            "urn:epc:id:sgtin:9506000.013435.A%20B",
            FormatError,
            'serial: expected escapes only for " % & / < > ? (%22 %25 %26 %2F %3C %3E %3F), '
            "got %20 in 'urn:epc:id:sgtin:9506000.013435.A%20B'",
        ),
        (
            "urn:epc:id:sgtin:9506000.013435.A#B",
            FormatError,
            'serial: expected CSET 82 characters, with " % & / < > ? escaped as %22 %25 %26 '
            "%2F %3C %3E %3F, got 'A#B' in 'urn:epc:id:sgtin:9506000.013435.A#B'",
        ),
        (
            "garbage",
            FormatError,
            "element_string: expected a GS1 Application Identifier, got 'garb' at position 1 "
            "of 'garbage'",
        ),
        (
            "x" * 5000,
            FormatError,
            f"data: expected at most 4096 characters, got '{'x' * 80}'… (5000 characters)",
        ),
    ],
)
def test_read_errors(data: str, error: type[Gs1Error], message: str) -> None:
    with pytest.raises(error) as excinfo:
        read(data)
    assert str(excinfo.value) == message


PREFIXES = st.sampled_from(
    [
        "",
        "]d2",
        "]C1",
        "]Q3",
        "]E0",
        "]d1",
        "(01)",
        "(21)",
        "0109506000134352",
        "01",
        "https://id.gs1.org/01/",
        "https://id.gs1.org/01/09506000134352/",
        "http://[",
        "urn:epc:id:sgtin:",
        "urn:epc:id:sgtin:9506000.013435.",
        "urn:epc:id:sgln:",
        "]",
        "\x1d",
    ]
)
HOSTILE = st.lists(
    st.sampled_from([*"0123456789()[]%/?&=#+.:;\x1d\x00\r\n ^~_é€٣", "%2F", "%ZZ", "(10)"]),
    max_size=40,
).map("".join) | st.text(max_size=60)


@settings(max_examples=500)
@given(prefix=PREFIXES, body=HOSTILE)
@example(prefix="http://[", body="")
@example(prefix="]", body="")
@example(prefix="https://id.gs1.org/01/", body="09506000134352?17=")
def test_hostile_input_raises_only_gs1_error(prefix: str, body: str) -> None:
    try:
        reading = read(prefix + body)
    except Gs1Error:
        return
    assert isinstance(reading.code, UnitCode | Sscc | Gln)


# Association rules (issue 18: these were accepted): the same data in every input form.
# Each case: HRI, its Digital Link (query attributes), the rule the message must quote.
RULE_BREAKS = [
    ("(01)12345678901231(255)5412345000150",
     "https://id.gs1.org/01/12345678901231?255=5412345000150", "ex=255,37"),
    ("(01)12345678901231(250)ABC123",
     "https://id.gs1.org/01/12345678901231?250=ABC123", "req=01+21,03+21,8006+21"),
    ("(01)09506000134352(37)12", "https://id.gs1.org/01/09506000134352?37=12", "ex=255,37"),
    ("(01)09506000134352(3103)000123(3102)000456",
     "https://id.gs1.org/01/09506000134352?3103=000123&3102=000456", "ex=310n"),
]  # fmt: skip
AI_DATA_IDENTIFIERS = ["", "]d2", "]d5", "]d8", "]dB", "]C1", "]e0", "]Q3", "]Q4", "]J1"]
PLAIN_DATA_IDENTIFIERS = ["", "]d1", "]Q1", "]J0"]


def _every_form(hri: str, link: str) -> list[str]:
    data = encode(parse_hri(hri))
    return [
        hri,
        *(identifier + data for identifier in AI_DATA_IDENTIFIERS),
        GS + data,  # FNC1 in first position sent as GS
        *(identifier + link for identifier in PLAIN_DATA_IDENTIFIERS),
    ]


@pytest.mark.parametrize(("hri", "link", "rule"), RULE_BREAKS)
def test_association_rules_hold_in_every_input_form(hri: str, link: str, rule: str) -> None:
    for data in _every_form(hri, link):
        with pytest.raises(RuleError, match=re.escape(f"association rule {rule}")):
            read(data)


def test_the_same_data_within_the_rules_is_read_in_every_input_form() -> None:
    hri = "(01)12345678901231(21)S1(250)ABC123"
    link = "https://id.gs1.org/01/12345678901231/21/S1?250=ABC123"
    expected = UnitCode.create(gtin="12345678901231", serial="S1", extra={"250": "ABC123"})
    for data in _every_form(hri, link):
        assert read(data).code == expected, data
