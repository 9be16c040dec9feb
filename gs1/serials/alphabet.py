"""Serial-number alphabets: which characters a serial may use, and their order as digits.

Three alphabets are offered, all subsets of GS1 CSET 82 (what AI 21 allows):

``numeric``  radix 10: ``0-9``. Safe everywhere.
``safe``     radix 34: ``0-9`` and ``A-Z`` without ``I`` and ``O`` (read as 1 and 0). Upper case
             only, no punctuation: safe in ERP fields, URLs, XML, ZPL and spoken over a phone.
``cset82``   radix 82: every GS1 CSET 82 character. The densest, but ``"``, ``%``, ``&``,
             ``'``, ``<``, ``>`` and ``/`` need escaping in XML, CSV or GS1 Digital Link URIs,
             and lower/upper case look-alikes confuse people reading the HRI.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product

import numpy as np
import numpy.typing as npt

from gs1.serials.errors import ConfigError, SerialFormatError

#: GS1 General Specifications, figure 7.11-1: the 82 characters of GS1 AI encodable set 82.
CSET82_SYMBOLS = (
    "!\"%&'()*+,-./"
    + string.digits
    + ":;<=>?"
    + string.ascii_uppercase
    + "_"
    + string.ascii_lowercase
)

_CHUNK_ENTRIES = 1 << 16  # digit-chunk lookup tables stay below this many strings


@dataclass(frozen=True)
class Alphabet:
    """An ordered set of symbols; a symbol's position is its digit value."""

    name: str
    symbols: str
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.symbols) < 2:
            raise ConfigError(
                f"alphabet {self.name!r}: expected at least 2 symbols, got {self.symbols!r}"
            )
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError(
                f"alphabet {self.name!r}: expected distinct symbols, got {self.symbols!r}"
            )
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.symbols)})

    @property
    def radix(self) -> int:
        return len(self.symbols)

    def encode_reversed(self, value: int, width: int) -> str:
        """REV(STR^width(value)) in this alphabet: the least significant digit comes first."""
        if self.symbols == string.digits:
            return f"{value:0{width}d}"[::-1]
        table, chunk_modulus, chunk_width = self._chunks
        parts = []
        for _ in range(-(-width // chunk_width)):
            value, rest = divmod(value, chunk_modulus)
            parts.append(table[rest])
        return "".join(parts)[:width]

    def encode_reversed_array(
        self, values: npt.NDArray[np.uint64], width: int
    ) -> npt.NDArray[np.uint8]:
        """:meth:`encode_reversed` of many values at once: an array of ``width`` ASCII codes
        per value (least significant digit first)."""
        table = np.frombuffer(self.symbols.encode("ascii"), dtype=np.uint8)
        radix = np.uint64(self.radix)
        out = np.empty((len(values), width), dtype=np.uint8)
        rest = values.copy()
        for column in range(width):
            out[:, column] = table[rest % radix]
            rest //= radix
        return out

    def decode_reversed(self, text: str, *, field: str = "serial") -> int:
        """NUM(REV(text)): inverse of :meth:`encode_reversed`."""
        value = 0
        radix = self.radix
        index = self._index
        for symbol in reversed(text):
            digit = index.get(symbol)
            if digit is None:
                raise SerialFormatError(
                    f"{field}: expected only characters of alphabet {self.name!r}, "
                    f"got {symbol!r} in {text!r}"
                )
            value = value * radix + digit
        return value

    def __contains__(self, text: object) -> bool:
        """True if ``text`` is a string made only of this alphabet's symbols."""
        return isinstance(text, str) and all(symbol in self._index for symbol in text)

    @cached_property
    def _chunks(self) -> tuple[list[str], int, int]:
        """All strings of ``k`` symbols, least significant first, indexed by value."""
        width = 1
        while self.radix ** (width + 1) <= _CHUNK_ENTRIES:
            width += 1
        table = ["".join(digits)[::-1] for digits in product(self.symbols, repeat=width)]
        return table, self.radix**width, width


NUMERIC = Alphabet("numeric", string.digits)
SAFE = Alphabet("safe", "".join(c for c in string.digits + string.ascii_uppercase if c not in "IO"))
CSET82 = Alphabet("cset82", CSET82_SYMBOLS)

ALPHABETS: dict[str, Alphabet] = {a.name: a for a in (NUMERIC, SAFE, CSET82)}


def alphabet_named(name: str) -> Alphabet:
    """The built-in alphabet called ``name``."""
    try:
        return ALPHABETS[name]
    except KeyError:
        raise ConfigError(
            f"alphabet: expected one of {', '.join(ALPHABETS)}, got {name!r}"
        ) from None
