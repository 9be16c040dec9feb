"""GS1 dates as used by AI 17 (expiry) and AI 11 (production date): ``YYMMDD``.

Day ``00`` is allowed and means "no day given": the date is then the last day of the month
(GS1 General Specifications 3.4.2, 3.4.6). The century follows GS1's sliding window
(General Specifications 7.12): a two-digit year more than 50 years ahead of the reference year
belongs to the previous century, one 50 or more years behind it to the next.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from gs1.checkdigit import is_digits
from gs1.errors import FormatError


def full_year(yy: int, reference_year: int) -> int:
    """The four-digit year of a two-digit year by GS1's sliding window around a year."""
    century = reference_year - reference_year % 100
    difference = yy - reference_year % 100
    if 51 <= difference <= 99:
        return century - 100 + yy
    if -99 <= difference <= -50:
        return century + 100 + yy
    return century + yy


@dataclass(frozen=True, slots=True)
class Expiry:
    """An expiry date. ``day`` 0 means "end of month" and renders back as ``00``."""

    year: int
    month: int
    day: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise FormatError(
                "expiry", f"{self.year:04d}-{self.month:02d}-{self.day:02d}", "a valid date"
            )
        if not 0 <= self.day <= calendar.monthrange(self.year, self.month)[1]:
            raise FormatError(
                "expiry",
                f"{self.year:04d}-{self.month:02d}-{self.day:02d}",
                f"day 00 to {calendar.monthrange(self.year, self.month)[1]:02d}"
                f" for {self.year:04d}-{self.month:02d}",
            )

    @classmethod
    def parse(
        cls, yymmdd: str, *, field: str = "expiry", reference_year: int | None = None
    ) -> Expiry:
        """Parse ``YYMMDD``; ``reference_year`` (default: this year, UTC) sets the century."""
        if reference_year is None:
            reference_year = dt.datetime.now(dt.UTC).year
        return _parse_yymmdd(yymmdd, field, reference_year)

    @classmethod
    def _parse(cls, yymmdd: str, field: str, reference_year: int) -> Expiry:
        if len(yymmdd) != 6 or not is_digits(yymmdd):
            raise FormatError(field, yymmdd, "a date as YYMMDD (6 digits, day 00 allowed)")
        month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
        if not 1 <= month <= 12:
            raise FormatError(field, yymmdd, "a date as YYMMDD with month 01 to 12")
        year = full_year(int(yymmdd[:2]), reference_year)
        last = calendar.monthrange(year, month)[1]
        if day > last:
            raise FormatError(
                field, yymmdd, f"a date as YYMMDD with day 00 to {last:02d} for {year}-{month:02d}"
            )
        return cls(year, month, day)

    @classmethod
    def from_date(cls, date: dt.date) -> Expiry:
        return cls(date.year, date.month, date.day)

    def yymmdd(self) -> str:
        return f"{self.year % 100:02d}{self.month:02d}{self.day:02d}"

    def as_date(self) -> dt.date:
        """The calendar date; day 00 is the last day of the month."""
        day = self.day or calendar.monthrange(self.year, self.month)[1]
        return dt.date(self.year, self.month, day)

    def isoformat(self) -> str:
        return self.as_date().isoformat()

    def __str__(self) -> str:
        return self.yymmdd()


@lru_cache(maxsize=4096)
def _parse_yymmdd(yymmdd: str, field: str, reference_year: int) -> Expiry:
    """Cached: a line prints one expiry for a whole batch (Expiry is immutable)."""
    return Expiry._parse(yymmdd, field, reference_year)
