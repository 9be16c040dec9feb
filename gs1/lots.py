"""Batch (lot) codes by rule (GS1 AI 10): a pattern of literals and tokens, rendered for one
line at one moment.

=============  =====================================================================
``{SITE}``     the site's code, ``{LINE}`` the line's code (given with the rule)
``{YYYY}``     year, ``{YY}`` its last two digits
``{MM}``       month 01-12, ``{DD}`` day 01-31
``{JJJ}``      day of the year 001-366 (the "Julian day" of packaging lines)
``{SHIFT}``    the code of the shift at that moment (from the rule's shift plan)
``{SEQ:n}``    a sequence of ``n`` digits (1-9); it counts per distinct rendering of the
               rest of the pattern (so per day, per shift, … as the pattern says), from 1
``{CHECK}``    a check character over the letters and digits before it (ISO/IEC 7064
               MOD 37,36: ``0-9 A-Z``; lower case counts as upper case), last in the pattern
=============  =====================================================================

Everything outside braces is literal and must be GS1 CSET 82. Every pattern has exactly one
``{SEQ:n}``: without it two batches of one period would get the same code. A rendered code
is at most 20 characters of CSET 82 (checked for the longest rendering when the pattern is
made, so rendering never fails later).

Uniqueness is by construction: the sequence for one rendering of the rest is handed out by
one owner (the serial authority, or the line itself for its own offline reserve), and a
pattern containing ``{LINE}`` (and ``{SITE}``) can never render another line's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time

from gs1.cset82 import CSET82, validate_cset82
from gs1.errors import FormatError

MAX_LOT_LENGTH = 20
_TOKEN = re.compile(r"\{([A-Z]+)(?::([0-9]+))?\}")
_FIXED = {"YYYY": 4, "YY": 2, "MM": 2, "DD": 2, "JJJ": 3, "CHECK": 1}
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SEQ_PLACEHOLDER = "{SEQ}"


def check_character(text: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character of the letters and digits of ``text``."""
    modulus = 36
    product = modulus
    for char in text.upper():
        value = _ALPHANUMERIC.find(char)
        if value < 0:
            continue
        total = (product + value) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return _ALPHANUMERIC[(modulus + 1 - product) % modulus]


def is_checked(text: str) -> bool:
    """True if the last character is the check character of the rest."""
    return bool(text) and check_character(text[:-1]) == text[-1].upper()


@dataclass(frozen=True)
class Shift:
    code: str
    starts: time


def parse_shifts(text: str) -> tuple[Shift, ...]:
    """``"A@06:00,B@14:00,C@22:00"`` -> shifts; before the first start it is still the
    previous day's last shift."""
    shifts = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, at, clock = part.partition("@")
        match = re.fullmatch(r"([0-2][0-9]):([0-5][0-9])", clock.strip())
        if not at or match is None or int(match.group(1)) > 23:
            raise FormatError(
                "shifts", text, "CODE@HH:MM separated by commas, e.g. A@06:00,B@14:00"
            )
        validate_cset82(code.strip(), field="shifts", max_length=3)
        shifts.append(Shift(code.strip(), time(int(match.group(1)), int(match.group(2)))))
    if len({s.starts for s in shifts}) != len(shifts):
        raise FormatError("shifts", text, "shifts that start at different times")
    return tuple(sorted(shifts, key=lambda s: s.starts))


@dataclass(frozen=True)
class LotPattern:
    """A lot-code rule of one site or line. Valid or raise (:class:`FormatError`)."""

    text: str
    site_code: str = ""
    line_code: str = ""
    shifts: tuple[Shift, ...] = ()
    _parts: tuple[tuple[str, str | int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts: list[tuple[str, str | int]] = []
        position = 0
        for match in _TOKEN.finditer(self.text):
            if match.start() > position:
                parts.append(("literal", self.text[position : match.start()]))
            parts.append(self._token(match))
            position = match.end()
        if position < len(self.text):
            parts.append(("literal", self.text[position:]))
        for kind, value in parts:
            if kind == "literal" and ("{" in str(value) or "}" in str(value)):
                raise FormatError(
                    "pattern",
                    self.text,
                    f"tokens {', '.join(_known())}",
                    f"{str(value)!r} in {self.text!r}",
                )
            if kind == "literal" and any(c not in CSET82 for c in str(value)):
                raise FormatError("pattern", self.text, "literal characters of GS1 CSET 82")
        kinds = [kind for kind, _ in parts]
        if kinds.count("SEQ") != 1:
            raise FormatError("pattern", self.text, "exactly one {SEQ:n} (1 to 9 digits)")
        if "CHECK" in kinds and (kinds.count("CHECK") > 1 or kinds[-1] != "CHECK"):
            raise FormatError("pattern", self.text, "{CHECK} once, at the end")
        if "SHIFT" in kinds and not self.shifts:
            raise FormatError("shifts", self.text, "a shift plan for a pattern with {SHIFT}")
        for name, code in (("site_code", self.site_code), ("line_code", self.line_code)):
            if code:
                validate_cset82(code, field=name, max_length=10)
        if "SITE" in kinds and not self.site_code:
            raise FormatError("site_code", "", "a site code for a pattern with {SITE}")
        if "LINE" in kinds and not self.line_code:
            raise FormatError("line_code", "", "a line code for a pattern with {LINE}")
        object.__setattr__(self, "_parts", tuple(parts))
        longest = sum(self._width(kind, value) for kind, value in parts)
        if longest > MAX_LOT_LENGTH:
            raise FormatError(
                "pattern",
                self.text,
                f"codes of at most {MAX_LOT_LENGTH} characters (GS1 AI 10)",
                f"up to {longest} characters from {self.text!r}",
            )

    def _token(self, match: re.Match[str]) -> tuple[str, str | int]:
        name, width = match.group(1), match.group(2)
        if name == "SEQ":
            if width is None or not 1 <= int(width) <= 9:
                raise FormatError("pattern", self.text, "{SEQ:n} with n from 1 to 9 digits")
            return ("SEQ", int(width))
        if width is not None or name not in (*_FIXED, "SITE", "LINE", "SHIFT"):
            raise FormatError(
                "pattern",
                self.text,
                f"tokens {', '.join(_known())}",
                f"{match.group(0)!r} in {self.text!r}",
            )
        return (name, 0)

    def _width(self, kind: str, value: str | int) -> int:
        if kind == "literal":
            return len(str(value))
        if kind == "SEQ":
            return int(value)
        if kind == "SITE":
            return len(self.site_code)
        if kind == "LINE":
            return len(self.line_code)
        if kind == "SHIFT":
            return max(len(s.code) for s in self.shifts)
        return _FIXED[kind]

    @property
    def max_sequence(self) -> int:
        width = next(int(value) for kind, value in self._parts if kind == "SEQ")
        return int(10**width) - 1

    def shift_at(self, moment: datetime) -> str:
        if not self.shifts:
            return ""
        current = self.shifts[-1]  # before the first start: the previous day's last shift
        for shift in self.shifts:
            if shift.starts <= moment.time():
                current = shift
        return current.code

    def period(self, moment: datetime) -> str:
        """What the sequence counts per: the pattern rendered at ``moment`` with the
        sequence (and check character) left as placeholders."""
        return self._render(moment, None)

    def render(self, moment: datetime, sequence: int) -> str:
        """The lot code at ``moment`` (the plant's local time) with ``sequence``."""
        if not 1 <= sequence <= self.max_sequence:
            raise FormatError(
                "sequence", str(sequence), f"1 to {self.max_sequence} for pattern {self.text!r}"
            )
        return self._render(moment, sequence)

    def _render(self, moment: datetime, sequence: int | None) -> str:
        out = ""
        for kind, value in self._parts:
            if kind == "literal":
                out += str(value)
            elif kind == "SEQ":
                out += SEQ_PLACEHOLDER if sequence is None else f"{sequence:0{int(value)}d}"
            elif kind == "CHECK":
                out += "{CHECK}" if sequence is None else check_character(out)
            else:
                out += self._field(kind, moment)
        return out

    def _field(self, kind: str, moment: datetime) -> str:
        if kind == "SITE":
            return self.site_code
        if kind == "LINE":
            return self.line_code
        if kind == "SHIFT":
            return self.shift_at(moment)
        return {
            "YYYY": f"{moment.year:04d}",
            "YY": f"{moment.year % 100:02d}",
            "MM": f"{moment.month:02d}",
            "DD": f"{moment.day:02d}",
            "JJJ": f"{moment.timetuple().tm_yday:03d}",
        }[kind]


def _known() -> list[str]:
    return ["{SITE}", "{LINE}", "{YYYY}", "{YY}", "{MM}", "{DD}", "{JJJ}", "{SHIFT}",
            "{SEQ:n}", "{CHECK}"]  # fmt: skip
