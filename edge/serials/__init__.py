"""The line's identifier sources: unit serials and SSCCs, never handed out twice.

Two ways to get them, chosen in ``[serials]`` of the edge configuration:

* **local** (no ``authority_url``): :mod:`~edge.serials.allocator` leases durable counter
  ranges from a SQLite file this host owns, and :mod:`~edge.serials.pool` turns them into
  randomized serials with the key (:mod:`gs1.serials`). One host per GTIN.
* **authority** (``authority_url`` set): :mod:`~edge.serials.buffer` keeps pools of ready-made
  serials and SSCCs that the serial authority (:mod:`server.serials`) handed to this line, for
  hours of production offline; :mod:`~edge.serials.link` refills them at a low-water mark and
  reports what each batch used, destroyed and returned.
"""

from __future__ import annotations

from edge.serials.allocator import CounterAllocator, CounterScope, Lease
from edge.serials.errors import AuthorityError, BufferEmptyError
from edge.serials.keyfile import KEY_ENV, key_from_env, read_key
from edge.serials.pool import PoolState, SerialPool, SsccPool, gtin_scope, sscc_scope

__all__ = [
    "KEY_ENV",
    "AuthorityError",
    "BufferEmptyError",
    "CounterAllocator",
    "CounterScope",
    "Lease",
    "PoolState",
    "SerialPool",
    "SsccPool",
    "gtin_scope",
    "key_from_env",
    "read_key",
    "sscc_scope",
]
