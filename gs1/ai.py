"""The GS1 Application Identifiers serialtrace reads and writes, as data.

Each :class:`ApplicationIdentifier` says how long its data is (fixed, or at most), which
characters it takes (digits, or CSET 82), whether a separator (FNC1, transmitted as GS) must
follow it when it is not last, what else must be checked (check digit, date), and which other
AIs the same message must carry for it to make sense (GS1 General Specifications 4.14,
"mandatory associations"). Formats and data titles follow the GS1 General Specifications 3.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Charset(Enum):
    NUMERIC = "N"
    CSET82 = "X"


class Check(Enum):
    NONE = "none"
    CHECK_DIGIT = "check digit"  # GS1 mod-10 over the whole value
    DATE = "date"  # YYMMDD, day 00 allowed


@dataclass(frozen=True, slots=True)
class ApplicationIdentifier:
    ai: str
    title: str  # GS1 data title
    field: str  # our name for it, used in error messages and JSON
    length: int  # the fixed length, or the maximum when not ``fixed``
    fixed: bool
    charset: Charset
    fnc1_required: bool  # GS must follow when not last (all but predefined-length AIs)
    check: Check = Check.NONE
    requires: tuple[str, ...] = ()  # the message must also carry one of these AIs
    excludes: tuple[str, ...] = ()  # the message must carry none of these AIs

    @property
    def format(self) -> str:
        """The GS1 format notation, e.g. ``N2+X..20``."""
        size = f"{self.length}" if self.fixed else f"..{self.length}"
        return f"N{len(self.ai)}+{self.charset.value}{size}"


_N, _X = Charset.NUMERIC, Charset.CSET82
_TRADE_ITEM = ("01", "02")

APPLICATION_IDENTIFIERS: tuple[ApplicationIdentifier, ...] = (
    ApplicationIdentifier("00", "SSCC", "sscc", 18, True, _N, False, Check.CHECK_DIGIT),
    ApplicationIdentifier(
        "01", "GTIN", "gtin", 14, True, _N, False, Check.CHECK_DIGIT, excludes=("02", "37")
    ),
    ApplicationIdentifier(
        "02", "CONTENT", "content_gtin", 14, True, _N, False, Check.CHECK_DIGIT, ("37",)
    ),
    ApplicationIdentifier("10", "BATCH/LOT", "lot", 20, False, _X, True, requires=_TRADE_ITEM),
    ApplicationIdentifier(
        "11", "PROD DATE", "production_date", 6, True, _N, False, Check.DATE, _TRADE_ITEM
    ),
    ApplicationIdentifier(
        "17", "USE BY OR EXPIRY", "expiry", 6, True, _N, False, Check.DATE, _TRADE_ITEM
    ),
    ApplicationIdentifier("21", "SERIAL", "serial", 20, False, _X, True, requires=("01",)),
    ApplicationIdentifier("37", "COUNT", "count", 8, False, _N, True, requires=("02",)),
    ApplicationIdentifier(
        "240", "ADDITIONAL ID", "additional_id", 30, False, _X, True, requires=_TRADE_ITEM
    ),
    ApplicationIdentifier(
        "254", "GLN EXTENSION COMPONENT", "gln_extension", 20, False, _X, True, requires=("414",)
    ),
    ApplicationIdentifier("400", "ORDER NUMBER", "order_number", 30, False, _X, True),
    ApplicationIdentifier(
        "410", "SHIP TO LOC", "ship_to_gln", 13, True, _N, False, Check.CHECK_DIGIT
    ),
    ApplicationIdentifier("414", "LOC No.", "gln", 13, True, _N, False, Check.CHECK_DIGIT),
    ApplicationIdentifier("710", "NHRN PZN", "nhrn_pzn", 20, False, _X, True, requires=("01",)),
    ApplicationIdentifier("711", "NHRN CIP", "nhrn_cip", 20, False, _X, True, requires=("01",)),
    ApplicationIdentifier("712", "NHRN CN", "nhrn_cn", 20, False, _X, True, requires=("01",)),
    ApplicationIdentifier("713", "NHRN DRN", "nhrn_drn", 20, False, _X, True, requires=("01",)),
    ApplicationIdentifier("714", "NHRN AIM", "nhrn_aim", 20, False, _X, True, requires=("01",)),
    ApplicationIdentifier("715", "NHRN NDC", "nhrn_ndc", 20, False, _X, True, requires=("01",)),
)
"""The AIs a pharmaceutical unit, case or pallet label uses, in AI order."""

BY_AI: dict[str, ApplicationIdentifier] = {entry.ai: entry for entry in APPLICATION_IDENTIFIERS}
