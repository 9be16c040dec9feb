"""FF3-1 format-preserving encryption over AES, batched.

FF3-1 is the FF3 mode of NIST SP 800-38G with the 56-bit tweak and the one-million minimum
domain of SP 800-38G Revision 1 (initial public draft, February 2019). It is an eight-round
Feistel network whose round function is AES-ECB under the byte-reversed key::

    u = ceil(n/2), v = n - u, A = X[1..u], B = X[u+1..n]
    T (56 bits) -> T_L = T[0..27] || 0000, T_R = T[32..55] || T[28..31] || 0000
    for i = 0..7:
        m, W = (u, T_R) if i is even else (v, T_L)
        P = (W xor [i]^4) || [NUM_radix(REV(B))]^12
        y = NUM(REVB(CIPH_REVB(K)(REVB(P))))
        c = (NUM_radix(REV(A)) + y) mod radix^m
        A, B = B, REV(STR^m_radix(c))
    return A || B

The Feistel state only ever needs the two integers ``a = NUM_radix(REV(A))`` and
``b = NUM_radix(REV(B))``, so this module works on those ("halves"): a round is one AES block,
one addition and one modulo. :meth:`FF31.encrypt_halves` runs a whole batch through each round
with ONE ``encryptor.update()`` over the concatenated blocks, which removes the per-call
overhead of AES in Python; its results are exactly those of the one-value form.

Note: NIST's second public draft of Rev. 1 (February 2025) drops FF3-1 and keeps FF1 only.
serialtrace uses FF3-1 as a keyed permutation that randomizes serial numbers (see
``docs/serials.md``), not to keep data secret.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gs1.serials.errors import ConfigError

ROUNDS = 8
DOMAIN_MIN = 1_000_000
RADIX_MIN = 2
RADIX_MAX = 1 << 16
TWEAK_BYTES = 7
KEY_BYTES = (16, 24, 32)
_BLOCK = 16
_WORD = 1 << 32

Halves = npt.NDArray[np.uint64]


def max_length(radix: int) -> int:
    """FF3-1 maxlen: 2 * floor(log_radix(2^96))."""
    k = 0
    while radix ** (k + 1) <= 1 << 96:
        k += 1
    return 2 * k


def min_length(radix: int) -> int:
    """FF3-1 minlen: the least n >= 2 with radix^n >= 1,000,000."""
    n = 2
    while radix**n < DOMAIN_MIN:
        n += 1
    return n


def expand_tweak(tweak: bytes) -> bytes:
    """The 64-bit FF3 tweak T_L || T_R that FF3-1 derives from a 56-bit tweak."""
    if len(tweak) != TWEAK_BYTES:
        raise ConfigError(f"tweak: expected {TWEAK_BYTES} bytes, got {len(tweak)}")
    t3 = tweak[3]
    return tweak[0:3] + bytes([t3 & 0xF0]) + tweak[4:7] + bytes([(t3 & 0x0F) << 4])


class FF31:
    """FF3-1 under one key and one tweak, for numeral strings of one radix and length.

    Instances are immutable and safe to share between threads (each call makes its own AES
    context).
    """

    __slots__ = ("_aes", "_high", "_length", "_mod_u", "_mod_v", "_radix", "_u", "_v")

    def __init__(self, key: bytes, tweak: bytes, radix: int, length: int) -> None:
        self._setup(key, expand_tweak(tweak), radix, length)

    @classmethod
    def with_tweak64(cls, key: bytes, tweak64: bytes, radix: int, length: int) -> FF31:
        """The same Feistel network with a raw 64-bit FF3 tweak.

        Only for checking the network against NIST's published FF3 samples, which predate the
        56-bit tweak; serials always use the 56-bit FF3-1 tweak.
        """
        if len(tweak64) != 8:
            raise ConfigError(f"tweak: expected 8 bytes, got {len(tweak64)}")
        cipher = cls.__new__(cls)
        cipher._setup(key, tweak64, radix, length)
        return cipher

    def _setup(self, key: bytes, tweak64: bytes, radix: int, length: int) -> None:
        if len(key) not in KEY_BYTES:
            raise ConfigError(f"key: expected 16, 24 or 32 bytes (AES-128/192/256), got {len(key)}")
        if not RADIX_MIN <= radix <= RADIX_MAX:
            raise ConfigError(f"radix: expected {RADIX_MIN}..{RADIX_MAX}, got {radix}")
        low, high = min_length(radix), max_length(radix)
        if not low <= length <= high:
            raise ConfigError(
                f"length: expected {low}..{high} for radix {radix} (FF3-1 needs "
                f"radix^length >= {DOMAIN_MIN:,} and <= radix^(2*floor(96/log2(radix)))), "
                f"got {length}"
            )
        self._aes = algorithms.AES(key[::-1])
        self._radix = radix
        self._length = length
        self._u = (length + 1) // 2
        self._v = length - self._u
        self._mod_u: int = radix**self._u
        self._mod_v: int = radix**self._v
        t_left = int.from_bytes(tweak64[:4], "big")
        t_right = int.from_bytes(tweak64[4:], "big")
        # REVB(P) read as a little-endian integer is NUM(REV(B)) + ((W xor i) << 96).
        self._high = tuple(((t_right if i % 2 == 0 else t_left) ^ i) << 96 for i in range(ROUNDS))

    @property
    def radix(self) -> int:
        return self._radix

    @property
    def length(self) -> int:
        return self._length

    @property
    def split(self) -> tuple[int, int]:
        """(u, v): the lengths of the left and right halves."""
        return self._u, self._v

    def encrypt_halves(self, a: list[int], b: list[int]) -> tuple[list[int], list[int]]:
        """Encrypt a batch given as halves ``a = NUM(REV(A))``, ``b = NUM(REV(B))``.

        Returns the halves of the ciphertexts in the same form. Inputs must lie in
        ``[0, radix^u)`` and ``[0, radix^v)``; they are not checked here (hot path).
        """
        encryptor = Cipher(self._aes, modes.ECB()).encryptor()
        update = encryptor.update
        from_bytes = int.from_bytes
        offsets = range(0, _BLOCK * len(a), _BLOCK)
        for i, high in enumerate(self._high):
            modulus = self._mod_u if i % 2 == 0 else self._mod_v
            blocks = update(b"".join([(x | high).to_bytes(_BLOCK, "little") for x in b]))
            a, b = (
                b,
                [
                    (x + from_bytes(blocks[o : o + _BLOCK], "little")) % modulus
                    for x, o in zip(a, offsets, strict=True)
                ],
            )
        return a, b

    @property
    def vectorised(self) -> bool:
        """True if both halves fit 32 bits (radix^u <= 2^32), so that
        :meth:`encrypt_arrays` can work on numpy arrays (e.g. numeric serials up to 18
        digits, ``safe`` up to 12, ``cset82`` up to 10)."""
        return self._mod_u <= _WORD

    def encrypt_arrays(self, a: Halves, b: Halves) -> tuple[Halves, Halves]:
        """:meth:`encrypt_halves` on numpy ``uint64`` arrays, for :attr:`vectorised` ciphers:
        the same results, without a Python-level step per value.

        A round's AES input, read little-endian, is ``b | (W xor i) << 96`` with ``b`` below
        2^32: 32-bit words ``[b, 0, 0, W xor i]``. Its output is reduced modulo ``m <= 2^32``
        word by word from the top (``r = (r * 2^32 + word) mod m``, exact in 64 bits)."""
        if not self.vectorised:
            raise ConfigError(
                f"arrays: expected halves of at most 32 bits, got radix {self._radix}^{self._u}"
            )
        count = len(a)
        encryptor = Cipher(self._aes, modes.ECB()).encryptor()
        words = np.zeros((count, 4), dtype="<u4")
        shift = np.uint64(32)
        for i, high in enumerate(self._high):
            modulus = np.uint64(self._mod_u if i % 2 == 0 else self._mod_v)
            words[:, 0] = b
            words[:, 3] = high >> 96
            out = np.frombuffer(encryptor.update(words.tobytes()), dtype="<u4").reshape(count, 4)
            out = out.astype(np.uint64)
            reduced = out[:, 3] % modulus
            for word in (2, 1, 0):
                reduced = ((reduced << shift) | out[:, word]) % modulus
            a, b = b, (a + reduced) % modulus
        return a, b

    def decrypt_halves(self, a: list[int], b: list[int]) -> tuple[list[int], list[int]]:
        """Inverse of :meth:`encrypt_halves`."""
        encryptor = Cipher(self._aes, modes.ECB()).encryptor()
        update = encryptor.update
        from_bytes = int.from_bytes
        offsets = range(0, _BLOCK * len(a), _BLOCK)
        for i in reversed(range(ROUNDS)):
            modulus = self._mod_u if i % 2 == 0 else self._mod_v
            high = self._high[i]
            blocks = update(b"".join([(x | high).to_bytes(_BLOCK, "little") for x in a]))
            a, b = (
                [
                    (x - from_bytes(blocks[o : o + _BLOCK], "little")) % modulus
                    for x, o in zip(b, offsets, strict=True)
                ],
                a,
            )
        return a, b

    def encrypt(self, numerals: Sequence[int]) -> list[int]:
        """FF3-1 encryption of one numeral string (a sequence of digits in ``[0, radix)``)."""
        a, b = self._halves(numerals)
        (ca,), (cb,) = self.encrypt_halves([a], [b])
        return self._numerals(ca, cb)

    def decrypt(self, numerals: Sequence[int]) -> list[int]:
        """FF3-1 decryption of one numeral string."""
        a, b = self._halves(numerals)
        (pa,), (pb,) = self.decrypt_halves([a], [b])
        return self._numerals(pa, pb)

    def _halves(self, numerals: Sequence[int]) -> tuple[int, int]:
        if len(numerals) != self._length:
            raise ConfigError(
                f"numeral string: expected length {self._length}, got {len(numerals)}"
            )
        for digit in numerals:
            if not 0 <= digit < self._radix:
                raise ConfigError(
                    f"numeral string: expected digits 0..{self._radix - 1}, got {digit}"
                )
        return _reversed_value(numerals[: self._u], self._radix), _reversed_value(
            numerals[self._u :], self._radix
        )

    def _numerals(self, a: int, b: int) -> list[int]:
        return _reversed_digits(a, self._u, self._radix) + _reversed_digits(b, self._v, self._radix)


def _reversed_value(numerals: Sequence[int], radix: int) -> int:
    """NUM_radix(REV(X)): the first numeral is the least significant."""
    value = 0
    for digit in reversed(numerals):
        value = value * radix + digit
    return value


def _reversed_digits(value: int, width: int, radix: int) -> list[int]:
    """REV(STR^width_radix(value)): least significant digit first."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, radix)
        digits.append(digit)
    return digits
