"""Randomized, never-reused serial numbers (GS1 AI 21) and SSCC serial references.

* :mod:`~edge.serials.fpe`: FF3-1 format-preserving encryption, batched over AES.
* :mod:`~edge.serials.alphabet`, :mod:`~edge.serials.scheme`: what a serial may look like.
* :mod:`~edge.serials.plan`: the EU FMD guessing-probability check.
* :mod:`~edge.serials.generator`: counter -> serial for one GTIN (a keyed permutation).
* :mod:`~edge.serials.allocator`: durable, disjoint counter ranges in SQLite.
* :mod:`~edge.serials.pool`: what a line takes serials and SSCCs from.
"""

from __future__ import annotations

from edge.serials.allocator import CounterAllocator, CounterScope, Lease
from edge.serials.alphabet import ALPHABETS, CSET82, NUMERIC, SAFE, Alphabet, alphabet_named
from edge.serials.errors import (
    ConfigError,
    ExhaustedError,
    GuessingRiskError,
    SchemeMismatchError,
    SerialFormatError,
    SerialsError,
)
from edge.serials.generator import SerialGenerator
from edge.serials.key import SerialKey
from edge.serials.plan import EU_FMD_LIMIT, SerialPlan
from edge.serials.pool import PoolState, SerialPool, SsccPool
from edge.serials.scheme import SerialScheme

__all__ = [
    "ALPHABETS",
    "CSET82",
    "EU_FMD_LIMIT",
    "NUMERIC",
    "SAFE",
    "Alphabet",
    "ConfigError",
    "CounterAllocator",
    "CounterScope",
    "ExhaustedError",
    "GuessingRiskError",
    "Lease",
    "PoolState",
    "SchemeMismatchError",
    "SerialFormatError",
    "SerialGenerator",
    "SerialKey",
    "SerialPlan",
    "SerialPool",
    "SerialScheme",
    "SerialsError",
    "SsccPool",
    "alphabet_named",
]
