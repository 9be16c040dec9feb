"""Reed-Solomon over GF(256) as DataMatrix ECC 200 uses it (ISO/IEC 16022, 5.7 and Annex E).

The field is GF(2^8) with the prime polynomial x^8 + x^5 + x^3 + x^2 + 1 (301); the generator
polynomial of a block with ``d`` error correction codewords has the roots a^1 .. a^d. A block
is its data codewords followed by its error correction codewords, the first codeword the
coefficient of the highest power.

:func:`decode_block` corrects errors and erasures and says how many of each it used: that is
what ISO/IEC 15415's unused error correction (UEC) is computed from, which the decoder
libraries do not report per block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

PRIME_POLYNOMIAL = 0x12D

_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= PRIME_POLYNOMIAL
for _power in range(255, 512):
    _EXP[_power] = _EXP[_power - 255]


def mul(a: int, b: int) -> int:
    """Product in GF(256)."""
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def div(a: int, b: int) -> int:
    """Quotient in GF(256); ``b`` must not be 0."""
    if b == 0:
        raise ZeroDivisionError("division by 0 in GF(256)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


def power(exponent: int) -> int:
    """a^exponent (a = 2, the field's primitive element)."""
    return _EXP[exponent % 255]


@lru_cache(maxsize=64)
def generator(ec_codewords: int) -> tuple[int, ...]:
    """Coefficients of the generator polynomial, highest power first (leading 1)."""
    poly = [1]
    for root in range(1, ec_codewords + 1):
        factor = power(root)
        nxt = [*poly, 0]
        for i, coefficient in enumerate(poly):
            nxt[i + 1] ^= mul(coefficient, factor)
        poly = nxt
    return tuple(poly)


def encode_block(data: Sequence[int], ec_codewords: int) -> list[int]:
    """The error correction codewords of one block of ``data`` codewords."""
    gen = generator(ec_codewords)
    remainder = [0] * ec_codewords
    for codeword in data:
        factor = codeword ^ remainder[0]
        remainder = [*remainder[1:], 0]
        if factor:
            for i in range(ec_codewords):
                remainder[i] ^= mul(gen[i + 1], factor)
    return remainder


@dataclass(frozen=True)
class BlockDecode:
    """One block after correction: the corrected codewords (data and EC) and what it took.

    ``errors`` are codewords corrected at positions the decoder had to find; ``erasures``
    the positions it was told about. ``ok`` is False when the block has more damage than its
    error correction can repair (``codewords`` are then as received).
    """

    codewords: tuple[int, ...]
    errors: int
    erasures: int
    ok: bool
    error_positions: tuple[int, ...] = ()


def syndromes(block: Sequence[int], ec_codewords: int) -> list[int]:
    """S_1 .. S_d: the received polynomial evaluated at the generator's roots."""
    out = []
    for j in range(1, ec_codewords + 1):
        root = power(j)
        value = 0
        for codeword in block:
            value = mul(value, root) ^ codeword
        out.append(value)
    return out


def decode_block(
    block: Sequence[int], ec_codewords: int, erasures: Sequence[int] = ()
) -> BlockDecode:
    """Correct ``block`` (data + EC codewords); ``erasures`` are indexes known to be unreliable.

    Succeeds whenever ``erasures + 2 * errors <= ec_codewords``. Beyond that it either fails
    (``ok`` False) or, like every bounded-distance decoder, may land on another valid block;
    the caller checks the decoded data where that matters.
    """
    n = len(block)
    received = list(block)
    erased = sorted(set(erasures))
    if any(not 0 <= position < n for position in erased) or n > 255:
        return BlockDecode(tuple(received), 0, len(erased), False)
    if len(erased) > ec_codewords:
        return BlockDecode(tuple(received), 0, len(erased), False)
    synd = syndromes(received, ec_codewords)
    if not any(synd):
        return BlockDecode(tuple(received), 0, len(erased), True)

    # erasure locator Gamma(x) = prod (1 - X_k x), coefficients lowest power first
    locator = [1]
    for position in erased:
        x_k = power(n - 1 - position)
        locator = _poly_mul(locator, [1, x_k])
    # Berlekamp-Massey, started from the erasure locator (errors-and-erasures form)
    rho = len(erased)
    previous = list(locator)
    length = rho
    shift = 1
    last_discrepancy = 1
    for r in range(rho, ec_codewords):
        discrepancy = 0
        for i, coefficient in enumerate(locator):
            if r - i >= 0 and coefficient:
                discrepancy ^= mul(coefficient, synd[r - i])
        if discrepancy == 0:
            shift += 1
            continue
        scale = div(discrepancy, last_discrepancy)
        candidate = _poly_add(locator, [0] * shift + [mul(scale, c) for c in previous])
        if 2 * length <= r + rho:
            previous = locator
            length = r + 1 + rho - length
            last_discrepancy = discrepancy
            shift = 1
        else:
            shift += 1
        locator = candidate
    while len(locator) > 1 and locator[-1] == 0:
        locator.pop()
    degree = len(locator) - 1
    if degree != length or 2 * (degree - rho) + rho > ec_codewords:
        return BlockDecode(tuple(received), 0, rho, False)

    # Chien search: position i has locator X_i = a^(n-1-i); it is in error if
    # Lambda(X_i^-1) == 0
    positions = []
    for i in range(n):
        inverse = power(-(n - 1 - i))
        if _poly_eval(locator, inverse) == 0:
            positions.append(i)
    if len(positions) != degree:
        return BlockDecode(tuple(received), 0, rho, False)

    # Forney: e_i = Omega(X_i^-1) / Lambda'(X_i^-1) (first root a^1)
    omega = _poly_mul(synd, locator)[:ec_codewords]
    derivative = [locator[i] if i % 2 == 1 else 0 for i in range(1, len(locator))]
    for i in positions:
        inverse = power(-(n - 1 - i))
        denominator = _poly_eval(derivative, inverse)
        if denominator == 0:
            return BlockDecode(tuple(received), 0, rho, False)
        received[i] ^= div(_poly_eval(omega, inverse), denominator)
    if any(syndromes(received, ec_codewords)):
        return BlockDecode(tuple(block), 0, rho, False)
    erased_set = set(erased)
    found = tuple(i for i in positions if i not in erased_set)
    return BlockDecode(tuple(received), len(found), rho, True, found)


def _poly_add(a: list[int], b: list[int]) -> list[int]:
    size = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) ^ (b[i] if i < len(b) else 0) for i in range(size)]


def _poly_mul(a: Sequence[int], b: Sequence[int]) -> list[int]:
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                if y:
                    out[i + j] ^= mul(x, y)
    return out


def _poly_eval(poly: Sequence[int], x: int) -> int:
    """Value at ``x`` of a polynomial given lowest power first."""
    value = 0
    for coefficient in reversed(poly):
        value = mul(value, x) ^ coefficient
    return value
