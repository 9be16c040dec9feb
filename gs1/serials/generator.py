"""Randomized serials of one GTIN: a keyed permutation of a counter.

``serial(counter) = FF3-1[key, tweak(GTIN)](plaintext(counter))`` where

* the tweak is the GTIN-14 as a 56-bit big-endian integer (10^14 < 2^56), so every GTIN gets
  its own permutation and no two GTINs share a tweak;
* the plaintext of ``counter`` is the numeral string ``REV(STR^u(counter // r^v)) ||
  REV(STR^v(counter mod r^v))`` (``r`` the radix, ``u = ceil(n/2)``, ``v = n - u``): a fixed
  bijection between ``[0, r^n)`` and the numeral strings of length ``n`` chosen so that the
  counter's two halves ARE the FF3-1 Feistel halves, with no digit shuffling per serial.

FF3-1 is a permutation of the ``r^n`` strings, so distinct counters give distinct serials:
serials are unique per GTIN by construction as long as no counter is used twice, which the
durable allocator guarantees.
"""

from __future__ import annotations

import numpy as np

from gs1.keys import Gtin
from gs1.serials.errors import ConfigError, SerialFormatError
from gs1.serials.fpe import FF31
from gs1.serials.key import SerialKey
from gs1.serials.plan import max_volume
from gs1.serials.scheme import SerialScheme

_BATCH = 8192  # counters per FF3-1 batch: large enough to amortise AES calls, cache-friendly


def gtin_tweak(gtin: Gtin) -> bytes:
    """The 56-bit FF3-1 tweak of a GTIN: its 14 digits as a big-endian integer."""
    return int(gtin.value).to_bytes(7, "big")


class SerialGenerator:
    """Turns counters into serials (and back) for one GTIN, one key and one scheme."""

    def __init__(self, key: SerialKey, gtin: Gtin, scheme: SerialScheme) -> None:
        self._gtin = gtin
        self._scheme = scheme
        self._cipher = FF31(key.material, gtin_tweak(gtin), scheme.alphabet.radix, scheme.length)
        self._u, self._v = self._cipher.split
        self._mod_v: int = scheme.alphabet.radix**self._v
        self._scheme_id = f"ff3-1/{scheme.name}/key:{key.key_id}"

    @property
    def gtin(self) -> Gtin:
        return self._gtin

    @property
    def scheme(self) -> SerialScheme:
        return self._scheme

    @property
    def scheme_id(self) -> str:
        """What a GTIN's counters are pinned to: method, scheme and key id, e.g.
        ``ff3-1/numeric/12/key:0123456789abcdef``. Another key, alphabet or length would be
        another permutation that could write a serial already issued."""
        return self._scheme_id

    @property
    def max_counters(self) -> int:
        """How many counters may ever be issued for the GTIN: the most that keeps the guessing
        probability below 1/10,000 (EU FMD) however many serials are issued."""
        return max_volume(self._scheme.space)

    def serial(self, counter: int) -> str:
        return self.serials(counter, counter + 1)[0]

    def serials(self, start: int, stop: int) -> list[str]:
        """The serials of counters ``start .. stop-1``, computed in batches."""
        if not 0 <= start <= stop <= self._scheme.space:
            raise ConfigError(
                f"counters: expected 0 <= start <= stop <= {self._scheme.space}, "
                f"got {start}..{stop}"
            )
        out: list[str] = []
        for chunk in range(start, stop, _BATCH):
            out += self._batch(chunk, min(chunk + _BATCH, stop))
        return out

    def counter_of(self, serial: str) -> int:
        """The counter a serial was issued from (any well-formed serial maps to one)."""
        if len(serial) != self._scheme.length:
            raise SerialFormatError(
                f"serial: expected {self._scheme.length} characters of alphabet "
                f"{self._scheme.alphabet.name!r}, got {len(serial)} in {serial!r}"
            )
        alphabet = self._scheme.alphabet
        a = alphabet.decode_reversed(serial[: self._u])
        b = alphabet.decode_reversed(serial[self._u :])
        (pa,), (pb,) = self._cipher.decrypt_halves([a], [b])
        return pa * self._mod_v + pb

    def _batch(self, start: int, stop: int) -> list[str]:
        if self._cipher.vectorised:
            return self._batch_arrays(start, stop)
        high, low = divmod(start, self._mod_v)
        count = stop - start
        if low + count <= self._mod_v:  # the usual case: one left half for the whole batch
            a = [high] * count
            b = list(range(low, low + count))
        else:
            a = [c // self._mod_v for c in range(start, stop)]
            b = [c % self._mod_v for c in range(start, stop)]
        a, b = self._cipher.encrypt_halves(a, b)
        u, v = self._u, self._v
        alphabet = self._scheme.alphabet
        if alphabet.radix == 10 and alphabet.symbols == "0123456789":
            fu, fv = f"0{u}d", f"0{v}d"
            return [format(x, fu)[::-1] + format(y, fv)[::-1] for x, y in zip(a, b, strict=True)]
        encode = alphabet.encode_reversed
        return [encode(x, u) + encode(y, v) for x, y in zip(a, b, strict=True)]

    def _batch_arrays(self, start: int, stop: int) -> list[str]:
        """:meth:`_batch` with numpy: both halves below 2^32, so every step is vectorised."""
        counters = np.arange(start, stop, dtype=np.uint64)
        modulus = np.uint64(self._mod_v)
        a, b = self._cipher.encrypt_arrays(counters // modulus, counters % modulus)
        alphabet = self._scheme.alphabet
        length = self._scheme.length
        text = (
            np.concatenate(
                (
                    alphabet.encode_reversed_array(a, self._u),
                    alphabet.encode_reversed_array(b, self._v),
                ),
                axis=1,
            )
            .tobytes()
            .decode("ascii")
        )
        return [text[i : i + length] for i in range(0, len(text), length)]
