"""How guessable serials are: the EU FMD check of a planned volume against a scheme.

Delegated Regulation (EU) 2016/161, article 4(b): the probability that a serial number can be
guessed must be negligible and in any case lower than one in ten thousand. For a GTIN whose
serials are drawn at random from a space of ``radix^length`` strings, a guess of a well-formed
serial hits an issued one with probability ``volume / radix^length``, where ``volume`` counts
every serial ever issued for that GTIN (all batches: they are all live in the repositories).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from gs1.serials.errors import ConfigError, GuessingRiskError
from gs1.serials.scheme import SerialScheme

#: The guessing probability must stay strictly below this (EU FMD, 2016/161 art. 4(b)).
EU_FMD_LIMIT = Fraction(1, 10_000)


def max_volume(space: int) -> int:
    """The largest volume whose guessing probability ``volume / space`` is below the limit."""
    return (space * EU_FMD_LIMIT.numerator - 1) // EU_FMD_LIMIT.denominator


@dataclass(frozen=True)
class SerialPlan:
    """A scheme together with the number of serials planned for one GTIN over its life."""

    scheme: SerialScheme
    volume: int

    def __post_init__(self) -> None:
        if self.volume < 1:
            raise ConfigError(f"volume: expected a whole number >= 1, got {self.volume}")

    @property
    def space(self) -> int:
        return self.scheme.space

    @property
    def probability(self) -> Fraction:
        """Chance that one random well-formed serial is an issued one."""
        return Fraction(self.volume, self.space)

    @property
    def max_volume(self) -> int:
        return max_volume(self.space)

    @property
    def acceptable(self) -> bool:
        return self.probability < EU_FMD_LIMIT

    def require_acceptable(self) -> SerialPlan:
        """This plan, or :class:`GuessingRiskError` if it breaks the EU FMD limit."""
        if not self.acceptable:
            raise GuessingRiskError(
                f"volume: expected at most {self.max_volume:,} serials for scheme "
                f"{self.scheme.name} (guessing probability below 1/10,000), got "
                f"{self.volume:,} (probability {float(self.probability):.3g})"
            )
        return self
