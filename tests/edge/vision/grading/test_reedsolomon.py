"""Reed-Solomon of DataMatrix ECC 200: the standard's examples, and every correctable
pattern of errors and erasures corrected with exact counts (what UEC is computed from)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.vision.grading.reedsolomon import decode_block, encode_block, generator, syndromes


def test_generator_polynomial_of_five_codewords_is_the_standards() -> None:
    # ISO/IEC 16022 Annex E: coefficients of the 5-codeword generator
    assert generator(5) == (1, 62, 111, 15, 48, 228)


def test_the_standards_worked_example_123456() -> None:
    # ISO/IEC 16022 Annex O: "123456" -> data 142 164 186, EC 114 25 5 88 102 (10x10)
    assert encode_block([142, 164, 186], 5) == [114, 25, 5, 88, 102]
    assert syndromes([142, 164, 186, 114, 25, 5, 88, 102], 5) == [0] * 5


def test_clean_block_decodes_with_nothing_used() -> None:
    block = [142, 164, 186, 114, 25, 5, 88, 102]
    result = decode_block(block, 5)
    assert result.ok and result.errors == 0 and result.erasures == 0
    assert list(result.codewords) == block


def test_two_errors_in_a_10x10_block_are_corrected_and_counted() -> None:
    block = [142, 164, 186, 114, 25, 5, 88, 102]
    damaged = list(block)
    damaged[1] ^= 0x55
    damaged[6] = 0
    result = decode_block(damaged, 5)
    assert result.ok and result.errors == 2 and result.error_positions == (1, 6)
    assert list(result.codewords) == block


def test_three_errors_in_five_ec_codewords_are_not_corrected() -> None:
    block = [142, 164, 186, 114, 25, 5, 88, 102]
    damaged = [value ^ 1 if i in (0, 3, 7) else value for i, value in enumerate(block)]
    result = decode_block(damaged, 5)
    assert not result.ok or list(result.codewords) != block  # beyond d/2: never "repaired"


def test_erasures_cost_one_each() -> None:
    block = [142, 164, 186, 114, 25, 5, 88, 102]
    damaged = [0, 0, 0, 0, 0, 5, 88, 102]  # five erased, their positions known
    result = decode_block(damaged, 5, erasures=[0, 1, 2, 3, 4])
    assert result.ok and result.erasures == 5 and result.errors == 0
    assert list(result.codewords) == block


def test_positions_outside_the_block_fail_cleanly() -> None:
    assert not decode_block([1, 2, 3], 2, erasures=[7]).ok


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([5, 7, 10, 12, 14, 18, 20, 24, 28, 36, 42, 48, 56, 62, 68]),
    st.data(),
)
def test_any_correctable_damage_is_repaired_with_exact_counts(ec: int, data: st.DataObject) -> None:
    length = data.draw(st.integers(min_value=1, max_value=min(175, 255 - ec)))
    message = data.draw(st.lists(st.integers(0, 255), min_size=length, max_size=length))
    block = message + encode_block(message, ec)
    erasures = data.draw(st.integers(0, ec))
    errors = data.draw(st.integers(0, (ec - erasures) // 2))
    positions = data.draw(
        st.lists(
            st.integers(0, len(block) - 1),
            min_size=erasures + errors,
            max_size=erasures + errors,
            unique=True,
        )
    )
    received = list(block)
    for position in positions[:erasures]:
        received[position] = data.draw(st.integers(0, 255))
    for position in positions[erasures:]:
        received[position] ^= data.draw(st.integers(1, 255))
    result = decode_block(received, ec, erasures=positions[:erasures])
    assert result.ok
    assert list(result.codewords) == block
    assert (result.erasures, result.errors) == (erasures, errors)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=8, max_size=60), st.integers(0, 2**32))
def test_a_decoded_block_is_always_a_codeword(block: list[int], seed: int) -> None:
    result = decode_block(block, 7)
    if result.ok:
        assert syndromes(result.codewords, 7) == [0] * 7
