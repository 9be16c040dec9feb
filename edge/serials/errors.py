"""Errors of the edge's identifier sources.

::

    SerialsError (gs1.serials)      base of everything raised here
    ├── ConfigError                 a configuration that cannot work (alphabet, length, key, range)
    ├── GuessingRiskError           a plan whose guessing probability breaks the EU FMD limit
    ├── SchemeMismatchError         a scope asked for with another scheme than it was pinned to
    ├── ExhaustedError              every counter a scope may issue has been leased
    ├── SerialFormatError           a serial that this scheme could not have issued
    ├── BufferEmptyError            the line's buffer of a GTIN or SSCC prefix has run out
    └── AuthorityError              the serial authority refused a request or sent nonsense

The first five are :mod:`gs1.serials`'s (the pure serial code raises them too); the last
two are also :class:`edge.errors.EdgeError`.
"""

from __future__ import annotations

from edge.errors import EdgeError
from gs1.serials.errors import (
    ConfigError,
    ExhaustedError,
    GuessingRiskError,
    SchemeMismatchError,
    SerialFormatError,
    SerialsError,
)


class BufferEmptyError(SerialsError, EdgeError):
    """No identifier is left in the line's buffer for a scope: the line must stop."""


class AuthorityError(SerialsError, EdgeError):
    """The serial authority refused a request (the message is its reason) or answered with
    something that is not a valid pool; ``status`` is the HTTP status, if there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


__all__ = [
    "AuthorityError",
    "BufferEmptyError",
    "ConfigError",
    "ExhaustedError",
    "GuessingRiskError",
    "SchemeMismatchError",
    "SerialFormatError",
    "SerialsError",
]
