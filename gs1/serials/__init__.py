"""Randomized serial numbers (GS1 AI 21): the pure part, shared by the edge and the authority.

* :mod:`~gs1.serials.fpe`: FF3-1 format-preserving encryption, batched over AES.
* :mod:`~gs1.serials.alphabet`, :mod:`~gs1.serials.scheme`: what a serial may look like.
* :mod:`~gs1.serials.plan`: the EU FMD guessing-probability check.
* :mod:`~gs1.serials.generator`: counter -> serial for one GTIN (a keyed permutation).
* :mod:`~gs1.serials.key`: the secret key (its material and fingerprint; no file I/O).

Who hands counters out, durably and never twice, is not here: the edge's local allocator
(:mod:`edge.serials`) or the serial authority (:mod:`server.serials`).
"""

from __future__ import annotations

from gs1.serials.alphabet import ALPHABETS, CSET82, NUMERIC, SAFE, Alphabet, alphabet_named
from gs1.serials.errors import (
    ConfigError,
    ExhaustedError,
    GuessingRiskError,
    SchemeMismatchError,
    SerialFormatError,
    SerialsError,
)
from gs1.serials.generator import SerialGenerator, gtin_tweak
from gs1.serials.key import SerialKey
from gs1.serials.plan import EU_FMD_LIMIT, SerialPlan, max_volume
from gs1.serials.scheme import GS1_SERIAL_MAX_LENGTH, SerialScheme

__all__ = [
    "ALPHABETS",
    "CSET82",
    "EU_FMD_LIMIT",
    "GS1_SERIAL_MAX_LENGTH",
    "NUMERIC",
    "SAFE",
    "Alphabet",
    "ConfigError",
    "ExhaustedError",
    "GuessingRiskError",
    "SchemeMismatchError",
    "SerialFormatError",
    "SerialGenerator",
    "SerialKey",
    "SerialPlan",
    "SerialScheme",
    "SerialsError",
    "alphabet_named",
    "gtin_tweak",
    "max_volume",
]
