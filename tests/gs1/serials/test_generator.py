"""Serial generator: unique and well-formed by construction, exact FF3-1, per-GTIN."""

from __future__ import annotations

import re

import pytest
from ff3 import FF3Cipher
from hypothesis import given, settings
from hypothesis import strategies as st

from gs1 import Gtin
from gs1.serials.alphabet import ALPHABETS, CSET82, NUMERIC, SAFE, Alphabet
from gs1.serials.errors import ConfigError, SerialFormatError
from gs1.serials.generator import SerialGenerator, gtin_tweak
from gs1.serials.key import SerialKey
from gs1.serials.plan import max_volume
from gs1.serials.scheme import SerialScheme

KEY = SerialKey(bytes.fromhex("2DE79D232DF5585D68CE47882AE256D6"))
GTIN = Gtin.parse("09506000134352")
OTHER_GTIN = Gtin.parse("09506000134369")


def test_one_million_serials_of_one_gtin_are_unique_and_well_formed() -> None:
    generator = SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 12))
    serials = generator.serials(0, 1_000_000)
    assert len(serials) == 1_000_000
    assert len(set(serials)) == 1_000_000
    assert {len(s) for s in serials} == {12}
    assert set("".join(serials)) <= set(NUMERIC.symbols)


def test_cset82_serials_are_unique_and_valid_ai_21() -> None:
    generator = SerialGenerator(KEY, GTIN, SerialScheme(CSET82, 8))
    serials = generator.serials(0, 200_000)
    assert len(set(serials)) == 200_000
    ai21 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{8}")
    assert all(ai21.fullmatch(s) for s in serials)


@pytest.mark.parametrize(("name", "length"), [("numeric", 9), ("safe", 7), ("cset82", 20)])
def test_serial_is_ff3_1_of_the_documented_plaintext(name: str, length: int) -> None:
    """serial(c) = FF3-1(REV(STR^u(c // r^v)) || REV(STR^v(c mod r^v))), tweak = GTIN."""
    alphabet = ALPHABETS[name]
    generator = SerialGenerator(KEY, GTIN, SerialScheme(alphabet, length))
    reference = FF3Cipher.withCustomAlphabet(KEY.hex(), gtin_tweak(GTIN).hex(), alphabet.symbols)
    u = (length + 1) // 2
    v = length - u
    for counter in (0, 1, 2, 99_999, alphabet.radix**v, 123_456_789 % alphabet.radix**length):
        high, low = divmod(counter, alphabet.radix**v)
        plaintext = alphabet.encode_reversed(high, u) + alphabet.encode_reversed(low, v)
        assert generator.serial(counter) == reference.encrypt(plaintext)


def test_gtin_tweak_is_the_gtin_as_a_56_bit_integer() -> None:
    assert gtin_tweak(GTIN) == (9506000134352).to_bytes(7, "big")


def test_each_gtin_has_its_own_permutation() -> None:
    scheme = SerialScheme(NUMERIC, 12)
    first = SerialGenerator(KEY, GTIN, scheme).serials(0, 1000)
    second = SerialGenerator(KEY, OTHER_GTIN, scheme).serials(0, 1000)
    assert len(set(first) & set(second)) < 5


def test_serials_do_not_reveal_order() -> None:
    serials = SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 12)).serials(0, 1000)
    assert serials != sorted(serials)
    assert len({s[:3] for s in serials}) > 500


@pytest.mark.parametrize(("alphabet", "length"), [(NUMERIC, 7), (SAFE, 5), (CSET82, 4)])
def test_batches_match_single_serials_across_every_boundary(
    alphabet: Alphabet, length: int
) -> None:
    generator = SerialGenerator(KEY, GTIN, SerialScheme(alphabet, length))
    right = alphabet.radix ** (length // 2)
    for start, stop in ((0, 10), (8190, 8200), (right - 3, right + 3), (3 * right - 1, 3 * right)):
        assert generator.serials(start, stop) == [generator.serial(c) for c in range(start, stop)]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(ALPHABETS)), st.integers(4, 20), st.data())
def test_counter_of_inverts_serial(name: str, length: int, data: st.DataObject) -> None:
    alphabet = ALPHABETS[name]
    if alphabet.radix**length < 1_000_000:
        length = 6
    generator = SerialGenerator(KEY, GTIN, SerialScheme(alphabet, length))
    counter = data.draw(st.integers(0, alphabet.radix**length - 1))
    assert generator.counter_of(generator.serial(counter)) == counter


def test_counter_of_rejects_what_the_scheme_cannot_write() -> None:
    generator = SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 12))
    with pytest.raises(SerialFormatError) as error:
        generator.counter_of("12345")
    assert str(error.value) == (
        "serial: expected 12 characters of alphabet 'numeric', got 5 in '12345'"
    )
    with pytest.raises(SerialFormatError, match="got 'A' in '12345A'"):
        generator.counter_of("12345A789012")


def test_counter_range_is_checked() -> None:
    generator = SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 6))
    with pytest.raises(ConfigError) as error:
        generator.serials(999_999, 1_000_001)
    assert str(error.value) == (
        "counters: expected 0 <= start <= stop <= 1000000, got 999999..1000001"
    )


def test_scheme_id_names_method_scheme_and_key_and_counters_are_capped() -> None:
    generator = SerialGenerator(KEY, GTIN, SerialScheme(SAFE, 10))
    assert generator.scheme_id == f"ff3-1/safe/10/key:{KEY.key_id}"
    assert generator.max_counters == max_volume(34**10)


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.sampled_from(
        [(NUMERIC, n) for n in range(6, 19)]
        + [(SAFE, n) for n in range(4, 13)]
        + [(CSET82, n) for n in range(4, 11)]
    ),
    st.data(),
)
def test_the_vectorised_path_gives_exactly_the_integer_path(
    key: bytes, scheme: tuple[Alphabet, int], data: st.DataObject
) -> None:
    alphabet, length = scheme
    generator = SerialGenerator(SerialKey(key), GTIN, SerialScheme(alphabet, length))
    assert generator._cipher.vectorised
    _u, v = generator._cipher.split
    mod_v = alphabet.radix**v
    start = data.draw(st.integers(0, alphabet.radix**length - 300))
    start = data.draw(st.sampled_from([start, max(0, (start // mod_v + 1) * mod_v - 5)]))
    stop = min(start + data.draw(st.integers(1, 200)), alphabet.radix**length)
    a = [c // mod_v for c in range(start, stop)]
    b = [c % mod_v for c in range(start, stop)]
    ca, cb = generator._cipher.encrypt_halves(a, b)
    expected = [
        alphabet.encode_reversed(x, _u) + alphabet.encode_reversed(y, v)
        for x, y in zip(ca, cb, strict=True)
    ]
    assert generator._batch_arrays(start, stop) == expected
    assert [generator.counter_of(s) for s in expected] == list(range(start, stop))
