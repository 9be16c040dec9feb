"""A serial scheme: the alphabet and fixed length every serial of a GTIN is written in."""

from __future__ import annotations

from dataclasses import dataclass

from gs1.serials.alphabet import Alphabet
from gs1.serials.errors import ConfigError
from gs1.serials.fpe import DOMAIN_MIN, max_length, min_length

#: GS1 AI 21 (serial number): at most 20 characters of CSET 82.
GS1_SERIAL_MAX_LENGTH = 20


@dataclass(frozen=True)
class SerialScheme:
    """Serials of ``length`` symbols of ``alphabet``; every serial has exactly this length."""

    alphabet: Alphabet
    length: int

    def __post_init__(self) -> None:
        radix = self.alphabet.radix
        low = min_length(radix)
        high = min(GS1_SERIAL_MAX_LENGTH, max_length(radix))
        if not low <= self.length <= high:
            raise ConfigError(
                f"length: expected {low}..{high} for alphabet {self.alphabet.name!r} "
                f"(FF3-1 needs {radix}^length >= {DOMAIN_MIN:,}; GS1 AI 21 allows at most "
                f"{GS1_SERIAL_MAX_LENGTH}), got {self.length}"
            )

    @property
    def space(self) -> int:
        """How many distinct serials the scheme can write: radix^length."""
        space: int = self.alphabet.radix**self.length
        return space

    @property
    def name(self) -> str:
        """Short stable name, e.g. ``numeric/12``."""
        return f"{self.alphabet.name}/{self.length}"
