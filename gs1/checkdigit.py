"""The GS1 mod-10 check digit (GS1 General Specifications 7.9.1) and digit-string checks."""

from __future__ import annotations

from gs1.errors import CheckDigitError, FormatError, quote


def is_digits(value: str) -> bool:
    """True if ``value`` is one or more ASCII digits (``str.isdigit`` alone accepts '²')."""
    return value.isascii() and value.isdigit()


def check_digit(digits: str) -> str:
    """The GS1 check digit for ``digits`` (the key without its check digit).

    >>> check_digit("0950600013435")
    '2'
    """
    if not is_digits(digits):
        raise FormatError("digits", digits, "ASCII digits 0-9")
    # Weights 3, 1, 3, … from the rightmost digit.
    odd = sum(map(int, digits[-1::-2]))
    even = sum(map(int, digits[-2::-2]))
    return str(-(3 * odd + even) % 10)


def require_key(value: str, length: int, field: str) -> None:
    """Raise unless ``value`` is ``length`` ASCII digits ending in a valid check digit."""
    if len(value) != length or not is_digits(value):
        raise FormatError(field, value, f"{length} digits")
    expected = check_digit(value[:-1])
    if value[-1] != expected:
        raise CheckDigitError(
            field, value, f"check digit {expected}", f"{value[-1]} in {quote(value)}"
        )
