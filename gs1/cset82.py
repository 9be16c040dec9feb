"""GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).

The 82 characters are ``! " % & ' ( ) * + , - . /``, the digits, ``: ; < = > ?``, ``A``-``Z``,
``_`` and ``a``-``z``. Serial numbers (AI 21) and lots (AI 10) are 1 to 20 of them.
"""

from __future__ import annotations

import re

from gs1.errors import FormatError, quote

CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_CSET82_CLASS = '[!"%-?A-Z_a-z]'
_CSET82_RE = re.compile(f"{_CSET82_CLASS}+")


def is_cset82(value: str, max_length: int = 20) -> bool:
    """True if ``value`` is 1 to ``max_length`` characters of CSET 82."""
    return 0 < len(value) <= max_length and _CSET82_RE.fullmatch(value) is not None


def validate_cset82(value: str, *, field: str, max_length: int = 20) -> str:
    """Return ``value`` if it is 1 to ``max_length`` characters of CSET 82, else raise.

    The error names the field, quotes the value and says which rule failed: empty, too long,
    or the first character (1-based position) outside the set.
    """
    if is_cset82(value, max_length):
        return value
    expected = f"1 to {max_length} characters of GS1 CSET 82"
    if not value:
        raise FormatError(field, value, expected)
    if len(value) > max_length:
        raise FormatError(field, value, expected, f"{quote(value)} ({len(value)} characters)")
    position, char = next((i, c) for i, c in enumerate(value, 1) if c not in CSET82)
    raise FormatError(
        field,
        value,
        expected,
        f"{quote(value)} ({char!r} at position {position} is not in CSET 82)",
    )
