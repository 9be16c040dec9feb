from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import CSET82, Expiry, FormatError, is_cset82, validate_cset82
from gs1.dates import full_year
from tests.gs1.strategies import CSET82_ALPHABET, NOT_CSET82, cset82, expiries


def test_cset82_has_exactly_82_ascii_characters() -> None:
    assert len(CSET82) == 82
    assert {chr(c) for c in range(128) if is_cset82(chr(c))} == CSET82


@pytest.mark.parametrize("char", list(CSET82_ALPHABET))
def test_every_cset82_character_is_accepted(char: str) -> None:
    assert validate_cset82(char * 20, field="serial") == char * 20


@pytest.mark.parametrize("char", list(NOT_CSET82))
def test_characters_outside_cset82_are_rejected(char: str) -> None:
    with pytest.raises(FormatError) as excinfo:
        validate_cset82(f"AB{char}", field="serial")
    assert str(excinfo.value) == (
        f"serial: expected 1 to 20 characters of GS1 CSET 82, got {'AB' + char!r} "
        f"({char!r} at position 3 is not in CSET 82)"
    )


@given(value=cset82(20))
def test_1_to_20_cset82_characters_are_valid(value: str) -> None:
    assert is_cset82(value)


@given(value=st.text(CSET82_ALPHABET, min_size=21, max_size=40))
def test_more_than_20_characters_are_invalid(value: str) -> None:
    with pytest.raises(FormatError, match=rf"\({len(value)} characters\)$"):
        validate_cset82(value, field="lot")


@given(value=st.text())
def test_is_cset82_agrees_with_the_set(value: str) -> None:
    expected = 0 < len(value) <= 20 and set(value) <= CSET82
    assert is_cset82(value) is expected


@pytest.mark.parametrize(
    ("value", "max_length", "message"),
    [
        ("", 20, "lot: expected 1 to 20 characters of GS1 CSET 82, got ''"),
        (
            "A" * 21,
            20,
            f"lot: expected 1 to 20 characters of GS1 CSET 82, got '{'A' * 21}' (21 characters)",
        ),
        (
            "A" * 31,
            30,
            f"lot: expected 1 to 30 characters of GS1 CSET 82, got '{'A' * 31}' (31 characters)",
        ),
        (
            "LOT 1",
            20,
            "lot: expected 1 to 20 characters of GS1 CSET 82, got 'LOT 1' "
            "(' ' at position 4 is not in CSET 82)",
        ),
    ],
)
def test_cset82_error_messages(value: str, max_length: int, message: str) -> None:
    with pytest.raises(FormatError) as excinfo:
        validate_cset82(value, field="lot", max_length=max_length)
    assert str(excinfo.value) == message


def test_long_hostile_input_is_shortened_in_messages() -> None:
    with pytest.raises(FormatError) as excinfo:
        validate_cset82("A" * 10_000, field="serial")
    assert len(str(excinfo.value)) < 200
    assert "(10000 characters)" in str(excinfo.value)


@given(expiry=expiries)
def test_expiry_yymmdd_round_trips(expiry: Expiry) -> None:
    assert Expiry.parse(expiry.yymmdd(), reference_year=2025) == expiry


def test_day_00_is_the_last_day_of_the_month() -> None:
    expiry = Expiry.parse("280200", reference_year=2025)
    assert (expiry.day, expiry.yymmdd(), expiry.isoformat()) == (0, "280200", "2028-02-29")
    assert Expiry.parse("270200", reference_year=2025).as_date() == dt.date(2027, 2, 28)


@pytest.mark.parametrize(
    ("yy", "reference", "year"),
    [
        (25, 2025, 2025),
        (75, 2025, 2075),
        (76, 2025, 1976),
        (0, 2060, 2100),
        (9, 2060, 2109),
        (10, 2060, 2110),
        (11, 2060, 2011),
        (99, 2001, 1999),
    ],
)
def test_century_sliding_window(yy: int, reference: int, year: int) -> None:
    assert full_year(yy, reference) == year


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2811", "expiry: expected a date as YYMMDD (6 digits, day 00 allowed), got '2811'"),
        ("28-1-1", "expiry: expected a date as YYMMDD (6 digits, day 00 allowed), got '28-1-1'"),
        ("281301", "expiry: expected a date as YYMMDD with month 01 to 12, got '281301'"),
        ("280000", "expiry: expected a date as YYMMDD with month 01 to 12, got '280000'"),
        ("270229", "expiry: expected a date as YYMMDD with day 00 to 28 for 2027-02, got '270229'"),
        ("280431", "expiry: expected a date as YYMMDD with day 00 to 30 for 2028-04, got '280431'"),
    ],
)
def test_expiry_errors(text: str, message: str) -> None:
    with pytest.raises(FormatError) as excinfo:
        Expiry.parse(text, reference_year=2025)
    assert str(excinfo.value) == message


def test_expiry_constructor_validates() -> None:
    with pytest.raises(FormatError, match=r"^expiry: expected day 00 to 28 for 2027-02, got"):
        Expiry(2027, 2, 29)
