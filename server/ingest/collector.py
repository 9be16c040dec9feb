"""Cyclic garbage collection held off while a group of documents is applied.

Applying a group allocates hundreds of thousands of small containers (row tuples, unit
dicts, parsed keys) that reference counting frees; almost none form cycles. CPython's cyclic
collector still runs every 700 net allocations, and its full collections walk every tracked
object in the process: the decoded documents waiting in the ingest queues, the app, the
libraries. Measured with the writer alone on pre-checked documents (what
``benchmarks/server.py --writer-only`` times), that walk took 26-32 % of the writer's time
(SQLite, first 100,000 units: 42,974 units/s, 58,274 with collection off).
:func:`gc_paused` turns automatic collection off for the block and back on after it (the
next allocation then collects whatever cycles the block left), so memory stays bounded by
one group.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # blocks running now, in any thread
_enable_after = False  # whether collection was on when the first of them began


@contextmanager
def gc_paused() -> Iterator[None]:
    """Automatic cyclic collection off while the block runs; nestable and thread-safe
    (collection comes back when the last overlapping block ends, and only if it was on
    when the first began)."""
    global _depth, _enable_after
    with _lock:
        if _depth == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _enable_after:
                gc.enable()
