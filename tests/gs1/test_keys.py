from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import CheckDigitError, FormatError, Gln, Gs1Error, Gtin, Sscc, check_digit
from tests.gs1.strategies import company_prefix_lengths, digits, glns, gtins, ssccs


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("0950600013435", "2"),  # GS1 example GTIN 09506000134352
        ("9501234", "6"),  # GTIN-8 95012346
        ("10614141234567890", "8"),  # SSCC 106141412345678908
        ("0", "0"),
        ("1", "7"),
    ],
)
def test_check_digit_known_values(payload: str, expected: str) -> None:
    assert check_digit(payload) == expected


@given(payload=st.text("0123456789", min_size=1, max_size=17), position=st.data())
def test_check_digit_detects_every_single_digit_error(
    payload: str, position: st.DataObject
) -> None:
    key = payload + check_digit(payload)
    index = position.draw(st.integers(0, len(key) - 1))
    wrong = position.draw(st.sampled_from([d for d in "0123456789" if d != key[index]]))
    corrupted = key[:index] + wrong + key[index + 1 :]
    assert check_digit(corrupted[:-1]) != corrupted[-1]


@given(payload=st.text("0123456789", min_size=1, max_size=17))
def test_check_digit_ignores_leading_zeros(payload: str) -> None:
    assert check_digit(payload) == check_digit("000" + payload)


@pytest.mark.parametrize("bad", ["", "12a", "١٢٣", "²", " 1"])
def test_check_digit_rejects_non_ascii_digits(bad: str) -> None:
    with pytest.raises(FormatError, match=r"^digits: expected ASCII digits 0-9, got "):
        check_digit(bad)


@given(length=st.sampled_from([8, 12, 13, 14]), data=st.data())
def test_gtin_parse_normalises_to_14_digits(length: int, data: st.DataObject) -> None:
    payload = data.draw(digits(length - 1))
    short = payload + check_digit(payload)
    gtin = Gtin.parse(short)
    assert gtin.value == short.zfill(14)
    shorten = {8: gtin.as_gtin8, 12: gtin.as_gtin12, 13: gtin.as_gtin13, 14: lambda: gtin.value}
    assert shorten[length]() == short


@given(gtin=gtins, cpl=company_prefix_lengths)
def test_gtin_split_by_company_prefix(gtin: Gtin, cpl: int) -> None:
    assert len(gtin.company_prefix(cpl)) == cpl
    joined = gtin.indicator + gtin.company_prefix(cpl) + gtin.item_reference(cpl)
    assert joined + check_digit(joined) == gtin.value


@given(sscc=ssccs, cpl=company_prefix_lengths)
def test_sscc_build_inverts_split(sscc: Sscc, cpl: int) -> None:
    built = Sscc.build(sscc.extension_digit, sscc.company_prefix(cpl), sscc.serial_reference(cpl))
    assert built == sscc == Sscc.parse(sscc.value)


@given(gln=glns, cpl=company_prefix_lengths)
def test_gln_split(gln: Gln, cpl: int) -> None:
    joined = gln.company_prefix(cpl) + gln.location_reference(cpl)
    assert joined + check_digit(joined) == gln.value == Gln.parse(gln.value).value


def test_sscc_build_pads_serial_reference() -> None:
    assert Sscc.build(1, "0614141", 234567890).value == "106141412345678908"
    assert Sscc.build(0, "0614141", "7").value.startswith("00614141000000007")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: Gtin.parse("9506000134353"),
            CheckDigitError,
            "gtin: expected check digit 2, got 3 in '9506000134353'",
        ),
        (
            lambda: Gtin.parse("950600013435"),
            CheckDigitError,
            "gtin: expected check digit 9, got 5 in '950600013435'",
        ),
        (
            lambda: Gtin.parse("12345"),
            FormatError,
            "gtin: expected a GTIN of 8, 12, 13 or 14 digits, got '12345'",
        ),
        (
            lambda: Gtin.parse("0950600013435X"),
            FormatError,
            "gtin: expected a GTIN of 8, 12, 13 or 14 digits, got '0950600013435X'",
        ),
        (
            lambda: Gtin("9506000134352"),
            FormatError,
            "gtin: expected 14 digits, got '9506000134352'",
        ),
        (
            lambda: Gtin("19506000134359").as_gtin13(),
            FormatError,
            "gtin: expected 1 leading zeros to shorten to GTIN-13, got '19506000134359'",
        ),
        (
            lambda: Gtin("09506000134352").company_prefix(5),
            FormatError,
            "company_prefix_length: expected an integer 6 to 12, got '5'",
        ),
        (
            lambda: Sscc.parse("106141412345678909"),
            CheckDigitError,
            "sscc: expected check digit 8, got 9 in '106141412345678909'",
        ),
        (lambda: Sscc.parse("1234"), FormatError, "sscc: expected 18 digits, got '1234'"),
        (
            lambda: Sscc.build(10, "0614141", 1),
            FormatError,
            "extension: expected a digit 0 to 9, got '10'",
        ),
        (
            lambda: Sscc.build(0, "06141", 1),
            FormatError,
            "company_prefix: expected 6 to 12 digits, got '06141'",
        ),
        (
            lambda: Sscc.build(0, "0614141", 1234567890),
            FormatError,
            "serial_reference: expected at most 9 digits with a 7-digit company prefix, "
            "got '1234567890'",
        ),
        (
            lambda: Gln.parse("9506000134351"),
            CheckDigitError,
            "gln: expected check digit 2, got 1 in '9506000134351'",
        ),
    ],
)
def test_key_errors(call: object, error: type[Gs1Error], message: str) -> None:
    with pytest.raises(error) as excinfo:
        call()  # type: ignore[operator]
    assert str(excinfo.value) == message
