"""Every linter of the Barcode Syntax Dictionary, with the cases of GS1's reference linters."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import CheckDigitError, FormatError, Gs1Error
from gs1.linters import LINTERS

PASS = [
    ("csum", "09506000134352"),
    ("csum", "0"),
    ("csumalpha", "22"),
    ("csumalpha", "!22"),
    ("csumalpha", "1987654Ad4X4bL5ttr2310c2K"),
    ("csumalpha", "12345678901234567890123NT"),
    ("csumalpha", "12345_!\"%&'()*+,-./LC"),
    ("csumalpha", "12345_0123456789:;<=>?62"),
    ("csumalpha", "99999zzzzzzzzzzzzzzzzzzT2"),
    ("gcppos1", "0123"),
    ("gcppos1", "0123A"),
    ("gcppos2", "90123"),
    ("yymmd0", "281100"),
    ("yymmd0", "240229"),
    ("yymmdd", "281130"),
    ("yyyymmdd", "20240229"),
    ("yyyymmd0", "20240200"),
    ("hh", "23"),
    ("mi", "59"),
    ("ss", "00"),
    ("hhmi", "2359"),
    ("iso3166", "004"),
    ("iso3166", "894"),
    ("iso3166999", "999"),
    ("iso3166alpha2", "DE"),
    ("iso4217", "978"),
    ("iso5218", "9"),
    ("mediatype", "01"),
    ("mediatype", "99"),
    ("packagetype", "1A"),
    ("packagetype", "ZZ"),
    ("yesno", "1"),
    ("winding", "9"),
    ("zero", "0"),
    ("hyphen", "-"),
    ("importeridx", "_"),
    ("importeridx", "z"),
    ("nonzero", "0001"),
    ("nozeroprefix", "0"),
    ("nozeroprefix", "10"),
    ("hasnondigit", "12A"),
    ("pieceoftotal", "0102"),
    ("posinseqslash", "1/2"),
    ("latitude", "1800000000"),
    ("longitude", "3600000000"),
    ("pcenc", "A%20B%2f"),
    ("iban", "FR7630006000011234567890189"),
    ("iban", "GB98MIDL07009312345678"),
    ("iban", "MT90MALT011000012345MTLCAST001SABC"),
    ("couponcode", "012345612345611110123"),
    ("couponposoffer", "001234561234560123456"),
    ("couponposoffer", "061234567890121234569123456789012345"),
]

FAIL = [
    ("csum", "09506000134353", CheckDigitError, "f: expected check digit 2, got 3 in "
     "'09506000134353'"),
    ("csumalpha", "33", CheckDigitError, "f: expected check character pair 22, got 33 in '33'"),
    ("csumalpha", "1987654Ad4X4bL5ttr2310cXK", CheckDigitError, None),
    ("csumalpha", "2", FormatError, "f: expected data and a two-character check pair, got '2'"),
    ("gcppos1", "012", FormatError, None),
    ("gcppos1", "01A3", FormatError, None),
    ("gcppos2", "0012", FormatError, None),
    ("yymmd0", "281300", FormatError, "f: expected a date as YYMMDD with month 01 to 12, got "
     "'281300'"),
    ("yymmdd", "281100", FormatError, None),
    ("yyyymmdd", "20230229", FormatError, "f: expected a date as YYYYMMDD with day 01 to 28 for "
     "2023-02, got '20230229'"),
    ("hh", "24", FormatError, "f: expected an hour: 2 digits, 00 to 23, got '24'"),
    ("mi", "60", FormatError, None),
    ("ss", "60", FormatError, None),
    ("hhmi", "2360", FormatError, None),
    ("iso3166", "999", FormatError, "f: expected an ISO 3166-1 numeric country code, got '999'"),
    ("iso3166", "000", FormatError, None),
    ("iso3166999", "998", FormatError, None),
    ("iso3166alpha2", "AA", FormatError, None),
    ("iso4217", "004", FormatError, None),
    ("iso5218", "3", FormatError, None),
    ("mediatype", "00", FormatError, None),
    ("mediatype", "11", FormatError, None),
    ("packagetype", "_1A", FormatError, None),
    ("yesno", "2", FormatError, None),
    ("winding", "2", FormatError, None),
    ("zero", "1", FormatError, None),
    ("hyphen", "A", FormatError, None),
    ("importeridx", "!", FormatError, None),
    ("nonzero", "0000", FormatError, "f: expected a number other than zero, got '0000'"),
    ("nozeroprefix", "01", FormatError, None),
    ("hasnondigit", "123", FormatError, None),
    ("pieceoftotal", "0302", FormatError, None),
    ("pieceoftotal", "0000", FormatError, None),
    ("posinseqslash", "3/2", FormatError, None),
    ("posinseqslash", "0/2", FormatError, None),
    ("latitude", "1800000001", FormatError, None),
    ("longitude", "3600000001", FormatError, None),
    ("pcenc", "A%2", FormatError, "f: expected percent-encoding as %HH (two hex digits), got "
     "'A%2' ('%' at position 2)"),
    ("pcenc", "A%G1", FormatError, None),
    ("iban", "BE71096123456760", CheckDigitError, None),
    ("iban", "XX361234567890", FormatError, None),
    ("iban", "BE71", FormatError, None),
    ("iban", "MTXXMALT011000012345MTLCAST001SABCD", FormatError, None),
    ("iban", "LC14BOSLxx3456789012345678901230", FormatError, None),
    ("couponcode", "a12345612345611110123", FormatError, None),
    ("couponcode", "0123456123456", FormatError, None),
    ("couponcode", "71234567890123", FormatError, None),
    ("couponcode", "0123456123456111101239", FormatError, None),
    ("couponposoffer", "201234561234560123456", FormatError, None),
    ("couponposoffer", "0012345612345601234567", FormatError, None),
    ("couponposoffer", "00123456123456", FormatError, None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value"), PASS)
def test_linter_accepts(name: str, value: str) -> None:
    LINTERS[name](value, "f")


@pytest.mark.parametrize(("name", "value", "error", "message"), FAIL)
def test_linter_refuses(name: str, value: str, error: type[Gs1Error], message: str | None) -> None:
    with pytest.raises(error) as excinfo:
        LINTERS[name](value, "f")
    if message is not None:
        assert str(excinfo.value) == message
    assert str(excinfo.value).startswith("f: expected ")


@given(name=st.sampled_from(sorted(LINTERS)), value=st.text(max_size=40))
def test_linters_raise_only_gs1_errors(name: str, value: str) -> None:
    with contextlib.suppress(Gs1Error):
        LINTERS[name](value, "f")
