"""Errors of serial numbering (:mod:`gs1.serials`, and the allocators built on it).

::

    SerialsError                  base of everything raised here
    ├── ConfigError               a configuration that cannot work (alphabet, length, key, range)
    ├── GuessingRiskError         a plan whose guessing probability breaks the EU FMD limit
    ├── SchemeMismatchError       a GTIN asked for with another scheme than the one it was pinned to
    ├── ExhaustedError            every counter a scope may issue has been leased
    └── SerialFormatError         a serial that this scheme could not have issued
"""

from __future__ import annotations

from gs1.errors import InvalidConfig


class SerialsError(Exception):
    """Base of every error raised by :mod:`edge.serials`."""


class ConfigError(SerialsError, InvalidConfig):
    """A configuration value that cannot work; the message names the field."""


class GuessingRiskError(SerialsError, ValueError):
    """The planned volume makes a serial too easy to guess (EU FMD: below 1 in 10,000)."""


class SchemeMismatchError(SerialsError):
    """A scope already pinned to one scheme was asked for with another."""


class ExhaustedError(SerialsError):
    """A scope has no counters left to lease."""


class SerialFormatError(SerialsError, ValueError):
    """A serial of the wrong length or with characters outside the scheme's alphabet."""
