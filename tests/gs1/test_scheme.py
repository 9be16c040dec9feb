"""GS1 as the first code scheme: UnitCode is an identity.UnitIdentity, gs1.GS1 the "gs1"
identity.CodeScheme, and every form round-trips through the seam."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gs1
from gs1 import FormatError, UnitCode
from identity import GS1_DATAMATRIX, CodeScheme, UnitIdentity, UnitKey, get_scheme
from tests.gs1.strategies import company_prefix_lengths, unit_codes

serialised = unit_codes(with_extra=False).filter(lambda code: code.serial is not None)

CODE = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281100")


def test_unit_code_satisfies_the_protocol() -> None:
    identity: UnitIdentity = CODE  # mypy checks the structure, isinstance the members
    assert isinstance(identity, UnitIdentity)
    assert isinstance(gs1.GS1, CodeScheme) and get_scheme("gs1") is gs1.GS1
    assert identity.scheme == "gs1"
    assert identity.key() == UnitKey("gs1", "09506000134352", "A1B2C3")
    assert identity.lot == "LOT2611"
    assert identity.expiry_date() == dt.date(2028, 11, 30)  # day 00: end of month
    assert identity.epc_uri(7) == "urn:epc:id:sgtin:9506000.013435.A1B2C3"
    assert identity.digital_link() == (
        "https://id.gs1.org/01/09506000134352/10/LOT2611/21/A1B2C3?17=281100"
    )


def test_printer_payload_is_the_gs1_datamatrix_and_the_label_fields() -> None:
    payload = CODE.printer_payload()
    assert payload.symbology == GS1_DATAMATRIX
    assert payload.data == "0109506000134352172811001 0LOT2611\x1d21A1B2C3".replace(" ", "")
    assert payload.fields == {
        "product": "09506000134352",
        "gtin": "09506000134352",
        "hri": "(01)09506000134352(17)281100(10)LOT2611(21)A1B2C3",
        "serial": "A1B2C3",
        "lot": "LOT2611",
        "expiry": "2028-11",
        "expiry_yymmdd": "281100",
    }


def test_a_code_without_serial_has_no_key_and_an_epc_needs_the_prefix_length() -> None:
    with pytest.raises(FormatError, match="serial: expected a serial for a unit key, got none"):
        UnitCode.create(gtin="09506000134352", lot="L1").key()
    with pytest.raises(FormatError, match="company_prefix_length: expected the GS1 company"):
        CODE.epc_uri()


@pytest.mark.parametrize(
    ("scan", "error"),
    [
        (
            "]d1" + CODE.element_string(),
            "symbology_identifier: expected a GS1 DataMatrix (]d2, ]d5, ]d8, ]dB), got ']d1'",
        ),
        (
            "]C1" + CODE.element_string(),
            "symbology_identifier: expected a GS1 DataMatrix (]d2, ]d5, ]d8, ]dB), got ']C1'",
        ),
        ("]d20109506000134353", "gtin: expected check digit 2, got 3 in '09506000134353'"),
    ],
)
def test_a_scan_that_is_no_gs1_datamatrix_is_an_error(scan: str, error: str) -> None:
    match = CODE.matches(scan)
    assert match.read is None and not match.ok
    assert match.error == error


def test_a_scan_of_another_unit_names_each_field() -> None:
    other = UnitCode.create(gtin="09506000134352", serial="A1B2C4", lot="LOT2612", expiry="281100")
    match = CODE.matches("]d2" + other.element_string())
    assert match.read == other and match.error is None
    assert match.mismatches == (
        "lot: expected 'LOT2611', got 'LOT2612'",
        "serial: expected 'A1B2C3', got 'A1B2C4'",
    )
    sscc = CODE.matches("]d2" + "00106141412345678908")
    assert sscc.mismatches == ("code: expected a unit code (GTIN), got Sscc",)


@given(serialised)
def test_a_scan_of_the_code_itself_matches(code: UnitCode) -> None:
    for identifier in ("]d2", "]d5", "]d8", "]dB"):
        match = code.matches(identifier + code.element_string())
        assert match.ok and match.read == code


@given(serialised, company_prefix_lengths)
def test_key_epc_and_scheme_round_trip(code: UnitCode, cpl: int) -> None:
    key = code.key()
    assert gs1.GS1.parse_epc(code.epc_uri(cpl)) == key
    assert gs1.GS1.parse_epc(code.digital_link()) == key
    rebuilt = gs1.GS1.unit(
        key.product,
        key.serial,
        lot=code.lot,
        expiry=None if code.expiry is None else code.expiry.yymmdd(),
    )
    assert rebuilt == code
    assert gs1.GS1.read("]d2" + code.printer_payload().data) == code


@given(st.sampled_from(["urn:epc:id:sscc:0614141.1234567890", "https://example.com/x", "x"]))
def test_other_identifiers_name_no_gs1_unit(uri: str) -> None:
    assert gs1.GS1.parse_epc(uri) is None


def test_read_wants_a_serialised_unit() -> None:
    with pytest.raises(FormatError, match=r"code: expected a serialised unit code"):
        gs1.GS1.read("(01)09506000134352(10)L1")
