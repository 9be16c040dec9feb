from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import CheckDigitError, Element, Expiry, FormatError, Gs1Error, Gtin, RuleError, UnitCode

CODE = UnitCode.create(gtin="9506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")


def test_element_string_fixed_first_gs_between_variable_fields() -> None:
    assert CODE.element_string() == "01095060001343521728113010LOT2611\x1d21A1B2C3"


def test_datamatrix_data_starts_with_fnc1() -> None:
    assert CODE.datamatrix_data() == "\x1d" + CODE.element_string()
    assert CODE.datamatrix_data("_1") == "_101095060001343521728113010LOT2611_121A1B2C3"


def test_hri() -> None:
    assert CODE.hri() == "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"


def test_last_variable_field_has_no_separator() -> None:
    lot_only = UnitCode.create(gtin="9506000134352", lot="L1", expiry="281100")
    assert lot_only.element_string() == "01095060001343521728110010L1"
    assert UnitCode.create(gtin="95012346").element_string() == "0100000095012346"


def test_digital_link() -> None:
    assert CODE.digital_link() == (
        "https://id.gs1.org/01/09506000134352/10/LOT2611/21/A1B2C3?17=281130"
    )
    assert CODE.digital_link("https://example.com/dl/") == (
        "https://example.com/dl/01/09506000134352/10/LOT2611/21/A1B2C3?17=281130"
    )


def test_digital_link_refuses_extras_it_cannot_carry() -> None:
    # AI (7040) is a qualifier of other keys only and no data attribute: no place in the URI.
    code = UnitCode.create(gtin="9506000134352", serial="S1", extra={"7040": "1AB-"})
    with pytest.raises(RuleError) as excinfo:
        code.digital_link()
    assert str(excinfo.value) == (
        "digital_link: expected AIs a Digital Link with primary key AI (01) can carry, "
        "got AI (7040) cannot be expressed"
    )


def test_digital_link_percent_encodes_every_reserved_character() -> None:
    code = UnitCode.create(gtin="9506000134352", serial="a/b%c&d?e+f", lot="#"[:0] + "x=y")
    assert code.digital_link() == (
        "https://id.gs1.org/01/09506000134352/10/x%3Dy/21/a%2Fb%25c%26d%3Fe%2Bf"
    )


def test_epc_uris_escape_per_tds() -> None:
    code = UnitCode.create(gtin="9506000134352", serial='a/b"%&<>?!', lot="L.1")
    assert code.sgtin_uri(7) == "urn:epc:id:sgtin:9506000.013435.a%2Fb%22%25%26%3C%3E%3F!"
    assert code.lgtin_uri(12) == "urn:epc:class:lgtin:950600013435.0.L.1"


def test_create_accepts_dates_and_extras() -> None:
    code = UnitCode.create(
        gtin="09506000134352", serial="1", expiry=dt.date(2028, 11, 30), extra={"710": "PZN1"}
    )
    assert code.expiry == Expiry(2028, 11, 30)
    assert code.element_string() == "010950600013435217281130211\x1d710PZN1"
    assert code.hri() == "(01)09506000134352(17)281130(21)1(710)PZN1"


def test_extras_are_sorted_and_fixed_length_ones_come_first() -> None:
    code = UnitCode(
        Gtin("09506000134352"),
        serial="S",
        extra=(Element("710", "P"), Element("410", "9506000134352"), Element("240", "A")),
    )
    assert code.extra == (Element("240", "A"), Element("410", "9506000134352"), Element("710", "P"))
    assert code.element_string() == ("0109506000134352410950600013435221S\x1d240A\x1d710P")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"serial": ""},
            FormatError,
            "serial: expected 1 to 20 characters of GS1 CSET 82, got ''",
        ),
        (
            {"serial": "S" * 21},
            FormatError,
            f"serial: expected 1 to 20 characters of GS1 CSET 82, got '{'S' * 21}' (21 characters)",
        ),
        (
            {"lot": "L\x1d1"},
            FormatError,
            "lot: expected 1 to 20 characters of GS1 CSET 82, got 'L\\x1d1' "
            "('\\x1d' at position 2 is not in CSET 82)",
        ),
        (
            {"expiry": "281131"},
            FormatError,
            "expiry: expected a date as YYMMDD with day 00 to 30 for 2028-11, got '281131'",
        ),
        (
            {"extra": {"21": "X"}},
            RuleError,
            "extra: expected AIs other than 01, 10, 17, 21 (fields of the unit code) and 00, 02, "
            "37, 254, 414 (not on a unit), got AI (21)",
        ),
        (
            {"extra": {"89": "X"}},
            FormatError,
            "ai: expected an Application Identifier of the GS1 Barcode Syntax Dictionary, got '89'",
        ),
        (
            {"extra": {"250": "SEC1"}},
            RuleError,
            "AI (250): expected AI (01)+(21) or (03)+(21) or (8006)+(21) with AI (250) "
            "(association rule req=01+21,03+21,8006+21), got AI (250) without them",
        ),
        (
            {"extra": {"3103": "00012"}},
            FormatError,
            "AI (3103): expected 6 digits, got '00012'",
        ),
        (
            {"extra": {"710": "PZN 1"}},
            FormatError,
            "nhrn_pzn: expected 1 to 20 characters of GS1 CSET 82, got 'PZN 1' "
            "(' ' at position 4 is not in CSET 82)",
        ),
        (
            {"extra": {"410": "9506000134353"}},
            CheckDigitError,
            "ship_to_gln: expected check digit 2, got 3 in '9506000134353'",
        ),
        (
            {"extra": {"11": "281340"}},
            FormatError,
            "production_date: expected a date as YYMMDD with month 01 to 12, got '281340'",
        ),
    ],
)
def test_create_errors(kwargs: dict[str, object], error: type[Gs1Error], message: str) -> None:
    with pytest.raises(error) as excinfo:
        UnitCode.create(gtin="9506000134352", **kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: CODE.digital_link("ftp://x"),
            "domain: expected an http(s) URI with a host and "
            "no query or fragment, e.g. 'https://id.gs1.org', got 'ftp://x'",
        ),
        (
            lambda: UnitCode.create(gtin="9506000134352").sgtin_uri(7),
            "serial: expected a serial for an SGTIN EPC URI, got none",
        ),
        (
            lambda: CODE.sgtin_uri(13),
            "company_prefix_length: expected an integer 6 to 12, got '13'",
        ),
    ],
)
def test_rendering_errors(call: object, message: str) -> None:
    with pytest.raises(FormatError) as excinfo:
        call()  # type: ignore[operator]
    assert str(excinfo.value) == message


@given(serial=st.text(max_size=25))
def test_hostile_serials_raise_only_format_error(serial: str) -> None:
    try:
        code = UnitCode.create(gtin="9506000134352", serial=serial)
    except FormatError:
        return
    assert code.serial == serial
