"""Expiry dates computed from a manufacturing date and a product's shelf life (GS1 AI 17).

Two rules, chosen per product:

``exact``
    The manufacturing date plus the shelf life: months are calendar months with the day
    kept, or the month's last day when it has fewer days (31 Jan + 1 month = 28 Feb, or 29 Feb
    in a leap year); then days. Printed as that day (``YYMMDD``).

``end_of_month``
    The month of the exact date, when the exact date is that month's last day; otherwise
    the month before it. The pack never outlives its shelf life. Printed with day ``00``
    (GS1 General Specifications: day 00 means the last day of the month): ``YYMM00``.

A shelf life is ``months`` plus ``days`` (both >= 0, not both 0).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from gs1.dates import Expiry
from gs1.errors import FormatError

#: At most this many months (50 years): anything longer is a typing error.
MAX_MONTHS = 600
MAX_DAYS = 36_600


class ExpiryRule(StrEnum):
    EXACT = "exact"
    END_OF_MONTH = "end_of_month"


@dataclass(frozen=True)
class ShelfLife:
    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        for name, value, most in (
            ("months", self.months, MAX_MONTHS),
            ("days", self.days, MAX_DAYS),
        ):
            if type(value) is not int or not 0 <= value <= most:
                raise FormatError(f"shelf_life_{name}", str(value), f"a whole number 0..{most}")
        if self.months == 0 and self.days == 0:
            raise FormatError("shelf_life", "0", "a shelf life of at least one day or month")

    def __str__(self) -> str:
        parts = [f"{self.months} months"] if self.months else []
        parts += [f"{self.days} days"] if self.days else []
        return " ".join(parts)


def add_months(start: date, months: int) -> date:
    """``start`` plus calendar months, the day clamped to the last day of the month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def compute_expiry(manufactured: date, shelf_life: ShelfLife, rule: ExpiryRule) -> Expiry:
    """The expiry of a batch made on ``manufactured`` (see the module docstring)."""
    exact = add_months(manufactured, shelf_life.months) + timedelta(days=shelf_life.days)
    if rule is ExpiryRule.EXACT:
        return Expiry.from_date(exact)
    last = calendar.monthrange(exact.year, exact.month)[1]
    month = exact if exact.day == last else exact.replace(day=1) - timedelta(days=1)
    return Expiry(month.year, month.month, 0)
