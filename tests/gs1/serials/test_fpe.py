"""FF3-1: published vectors, cross-check with the PyPI ff3 package, batching, domain errors."""

from __future__ import annotations

import pytest
from ff3 import FF3Cipher
from hypothesis import given, settings
from hypothesis import strategies as st

from gs1.serials.errors import ConfigError
from gs1.serials.fpe import FF31, expand_tweak, max_length, min_length
from tests.gs1.serials.vectors import ACVP_FF3_1, NIST_FF3_SAMPLES, Vector


def numerals(text: str, alphabet: str) -> list[int]:
    return [alphabet.index(c) for c in text]


def text(digits: list[int], alphabet: str) -> str:
    return "".join(alphabet[d] for d in digits)


@pytest.mark.parametrize("vector", NIST_FF3_SAMPLES, ids=lambda v: f"r{v[0]}-{v[2][:8]}-{v[3]}")
def test_nist_ff3_samples_through_the_same_feistel_network(vector: Vector) -> None:
    radix, alphabet, key, tweak, plaintext, ciphertext = vector
    cipher = FF31.with_tweak64(bytes.fromhex(key), bytes.fromhex(tweak), radix, len(plaintext))
    assert text(cipher.encrypt(numerals(plaintext, alphabet)), alphabet) == ciphertext
    assert text(cipher.decrypt(numerals(ciphertext, alphabet)), alphabet) == plaintext


@pytest.mark.parametrize("vector", ACVP_FF3_1, ids=lambda v: f"r{v[0]}-{v[2][:8]}-{v[3]}")
def test_ff3_1_vectors_with_56_bit_tweaks(vector: Vector) -> None:
    radix, alphabet, key, tweak, plaintext, ciphertext = vector
    cipher = FF31(bytes.fromhex(key), bytes.fromhex(tweak), radix, len(plaintext))
    assert text(cipher.encrypt(numerals(plaintext, alphabet)), alphabet) == ciphertext
    assert text(cipher.decrypt(numerals(ciphertext, alphabet)), alphabet) == plaintext


def test_tweak_expansion_moves_the_middle_nibbles() -> None:
    assert expand_tweak(bytes.fromhex("CBD09280979564")).hex() == "cbd0928097956400"
    assert expand_tweak(bytes.fromhex("0000005A000000")).hex() == "00000050000000a0"


ALPHABETS = {
    10: "0123456789",
    34: "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    82: "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[bytes, bytes, int, str]:
    radix = draw(st.sampled_from(sorted(ALPHABETS)))
    key = draw(st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32))
    tweak = draw(st.binary(min_size=7, max_size=7))
    length = draw(st.integers(min_length(radix), min(max_length(radix), 24)))
    plaintext = draw(st.text(ALPHABETS[radix], min_size=length, max_size=length))
    return key, tweak, radix, plaintext


@settings(max_examples=300, deadline=None)
@given(cases())
def test_agrees_with_the_ff3_package(case: tuple[bytes, bytes, int, str]) -> None:
    key, tweak, radix, plaintext = case
    alphabet = ALPHABETS[radix]
    reference = FF3Cipher.withCustomAlphabet(key.hex(), tweak.hex(), alphabet)
    ours = FF31(key, tweak, radix, len(plaintext))
    ciphertext = text(ours.encrypt(numerals(plaintext, alphabet)), alphabet)
    assert ciphertext == reference.encrypt(plaintext)
    assert text(ours.decrypt(numerals(ciphertext, alphabet)), alphabet) == plaintext


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(sorted(ALPHABETS)),
    st.integers(0, 40),
    st.data(),
)
def test_a_batch_equals_one_value_at_a_time(radix: int, size: int, data: st.DataObject) -> None:
    length = data.draw(st.integers(min_length(radix), 20))
    cipher = FF31(bytes(range(16)), b"\x01\x02\x03\x04\x05\x06\x07", radix, length)
    u, v = cipher.split
    a = data.draw(st.lists(st.integers(0, radix**u - 1), min_size=size, max_size=size))
    b = data.draw(st.lists(st.integers(0, radix**v - 1), min_size=size, max_size=size))
    batch = cipher.encrypt_halves(a, b)
    singles = [cipher.encrypt_halves([x], [y]) for x, y in zip(a, b, strict=True)]
    assert batch == ([s[0][0] for s in singles], [s[1][0] for s in singles])
    assert cipher.decrypt_halves(*batch) == (a, b)


@pytest.mark.parametrize(
    ("key", "tweak", "radix", "length", "message"),
    [
        (bytes(15), bytes(7), 10, 6, "key: expected 16, 24 or 32 bytes (AES-128/192/256), got 15"),
        (bytes(16), bytes(8), 10, 6, "tweak: expected 7 bytes, got 8"),
        (bytes(16), bytes(7), 1, 6, "radix: expected 2..65536, got 1"),
        (
            bytes(16),
            bytes(7),
            10,
            5,
            "length: expected 6..56 for radix 10 (FF3-1 needs radix^length >= 1,000,000 and "
            "<= radix^(2*floor(96/log2(radix)))), got 5",
        ),
        (
            bytes(16),
            bytes(7),
            82,
            31,
            "length: expected 4..30 for radix 82 (FF3-1 needs radix^length >= 1,000,000 and "
            "<= radix^(2*floor(96/log2(radix)))), got 31",
        ),
    ],
)
def test_domain_errors(key: bytes, tweak: bytes, radix: int, length: int, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        FF31(key, tweak, radix, length)
    assert str(error.value) == message


def test_numeral_string_errors() -> None:
    cipher = FF31(bytes(16), bytes(7), 10, 6)
    with pytest.raises(ConfigError, match=r"^numeral string: expected length 6, got 5$"):
        cipher.encrypt([1, 2, 3, 4, 5])
    with pytest.raises(ConfigError, match=r"^numeral string: expected digits 0\.\.9, got 10$"):
        cipher.encrypt([1, 2, 3, 4, 5, 10])


@pytest.mark.parametrize(("radix", "low", "high"), [(2, 20, 192), (10, 6, 56), (34, 4, 36)])
def test_length_bounds(radix: int, low: int, high: int) -> None:
    assert (min_length(radix), max_length(radix)) == (low, high)
