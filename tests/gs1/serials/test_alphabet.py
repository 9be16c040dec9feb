"""Alphabets: exact symbol sets, digit round trips, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1.serials.alphabet import ALPHABETS, CSET82, NUMERIC, SAFE, Alphabet, alphabet_named
from gs1.serials.errors import ConfigError, SerialFormatError


def test_cset82_is_the_gs1_table() -> None:
    assert CSET82.radix == 82
    assert set(CSET82.symbols) == {chr(c) for c in range(0x21, 0x7B)} - set("#$@[\\]^`")


def test_safe_has_no_look_alikes() -> None:
    assert SAFE.radix == 34
    assert not set("IO") & set(SAFE.symbols)
    assert set(SAFE.symbols) <= set(CSET82.symbols)


@given(st.sampled_from(sorted(ALPHABETS)), st.integers(1, 20), st.data())
def test_encode_reversed_round_trips(name: str, width: int, data: st.DataObject) -> None:
    alphabet = ALPHABETS[name]
    value = data.draw(st.integers(0, alphabet.radix**width - 1))
    encoded = alphabet.encode_reversed(value, width)
    assert len(encoded) == width
    assert encoded in alphabet
    assert alphabet.decode_reversed(encoded) == value


def test_encode_reversed_puts_the_least_significant_digit_first() -> None:
    assert NUMERIC.encode_reversed(123, 5) == "32100"
    assert SAFE.encode_reversed(34 * 2 + 1, 3) == "120"


def test_decode_rejects_foreign_characters() -> None:
    with pytest.raises(SerialFormatError) as error:
        SAFE.decode_reversed("AB1O")
    assert (
        str(error.value) == "serial: expected only characters of alphabet 'safe', got 'O' in 'AB1O'"
    )


@pytest.mark.parametrize(
    ("name", "symbols", "message"),
    [
        ("x", "a", "alphabet 'x': expected at least 2 symbols, got 'a'"),
        ("x", "abca", "alphabet 'x': expected distinct symbols, got 'abca'"),
    ],
)
def test_invalid_alphabets(name: str, symbols: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        Alphabet(name, symbols)
    assert str(error.value) == message


def test_alphabet_named() -> None:
    assert alphabet_named("cset82") is CSET82
    with pytest.raises(ConfigError) as error:
        alphabet_named("hex")
    assert str(error.value) == "alphabet: expected one of numeric, safe, cset82, got 'hex'"
