"""What a line takes its identifiers from: unit serials and SSCCs, leased range by range.

A pool belongs to one line. It leases a range of counters from the
:class:`~edge.serials.allocator.CounterAllocator` (durably, before anything of the range is
handed out), hands the range out one by one, and leases the next range when it runs out. A
pool starts empty: after a restart, the rest of the range the previous process held is never
used again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from edge.serials.allocator import CounterAllocator, CounterScope, Lease
from gs1 import Gs1Error, Gtin, Sscc
from gs1.serials.errors import ConfigError
from gs1.serials.generator import SerialGenerator

#: Counters per lease unless configured: one fsync per 10,000 units.
DEFAULT_RANGE_SIZE = 10_000
_SERIAL_CHUNK = 4096  # serials computed ahead at most, so a huge range costs no memory


@dataclass(frozen=True)
class PoolState:
    """Where a pool stands: its current lease (if any) and the counters left in it."""

    line: str
    kind: str
    scope: str
    lease: Lease | None
    next_counter: int | None
    remaining: int


class LeasedCounters:
    """The counters of one scope for one line, leased ``range_size`` at a time."""

    def __init__(
        self, allocator: CounterAllocator, scope: CounterScope, *, line: str, range_size: int
    ) -> None:
        if range_size < 1:
            raise ConfigError(f"range size: expected a whole number >= 1, got {range_size}")
        self._allocator = allocator
        self._scope = scope
        self._line = line
        self._range_size = range_size
        self._lease: Lease | None = None
        self._next = 0

    def take(self, most: int) -> range:
        """Between 1 and ``most`` consecutive unused counters, leasing a new range if needed."""
        if self._lease is None or self._next >= self._lease.stop:
            self._lease = self._allocator.lease(self._scope, self._line, self._range_size)
            self._next = self._lease.start
        taken = range(self._next, min(self._next + most, self._lease.stop))
        self._next = taken.stop
        return taken

    def state(self, *, buffered: int = 0) -> PoolState:
        """The state, counting ``buffered`` counters taken but not yet handed out as unused."""
        if self._lease is None:
            return PoolState(self._line, self._scope.kind, self._scope.name, None, None, 0)
        next_counter = self._next - buffered
        return PoolState(
            self._line,
            self._scope.kind,
            self._scope.name,
            self._lease,
            next_counter,
            self._lease.stop - next_counter,
        )


class SerialPool:
    """Randomized serials of one GTIN for one line. Thread-safe."""

    def __init__(
        self,
        allocator: CounterAllocator,
        generator: SerialGenerator,
        *,
        line: str,
        range_size: int = DEFAULT_RANGE_SIZE,
    ) -> None:
        self._generator = generator
        self._counters = LeasedCounters(
            allocator, gtin_scope(generator), line=line, range_size=range_size
        )
        self._buffer: list[str] = []
        self._position = 0
        self._lock = threading.Lock()

    @property
    def gtin(self) -> Gtin:
        return self._generator.gtin

    def take(self) -> str:
        """The next serial; its counter is durably allocated before it is returned."""
        with self._lock:
            if self._position == len(self._buffer):
                self._refill()
            serial = self._buffer[self._position]
            self._position += 1
            return serial

    def take_many(self, count: int) -> list[str]:
        """The next ``count`` serials, in the order :meth:`take` would give them."""
        if count < 0:
            raise ConfigError(f"count: expected a whole number >= 0, got {count}")
        taken: list[str] = []
        with self._lock:
            while len(taken) < count:
                if self._position == len(self._buffer):
                    self._refill()
                end = min(len(self._buffer), self._position + count - len(taken))
                taken += self._buffer[self._position : end]
                self._position = end
        return taken

    @property
    def state(self) -> PoolState:
        with self._lock:
            return self._counters.state(buffered=len(self._buffer) - self._position)

    def _refill(self) -> None:
        counters = self._counters.take(_SERIAL_CHUNK)
        self._buffer = self._generator.serials(counters.start, counters.stop)
        self._position = 0


def gtin_scope(generator: SerialGenerator) -> CounterScope:
    """The allocator scope of a GTIN's serials, pinned to the generator's scheme and key; its
    limit keeps the guessing probability below 1/10,000 however many serials are issued."""
    return CounterScope(
        kind="sgtin",
        name=generator.gtin.value,
        scheme=generator.scheme_id,
        limit=generator.max_counters,
    )


def sscc_scope(extension: int, company_prefix: str) -> CounterScope:
    """The scope of the SSCC serial references of one extension digit and company prefix."""
    try:
        Sscc.build(extension, company_prefix, 0)  # validates extension digit and prefix
    except Gs1Error as exc:
        raise ConfigError(str(exc)) from exc
    width = 16 - len(company_prefix)
    return CounterScope(
        kind="sscc",
        name=f"{extension}{company_prefix}",
        scheme=f"sequential/{width}",
        limit=10**width,
    )


class SsccPool:
    """SSCCs of one extension digit and company prefix for one line; serial references are
    sequential within a lease and never reused. Thread-safe."""

    def __init__(
        self,
        allocator: CounterAllocator,
        *,
        extension: int,
        company_prefix: str,
        line: str,
        range_size: int = 100,
    ) -> None:
        scope = sscc_scope(extension, company_prefix)
        self._extension = extension
        self._company_prefix = company_prefix
        self._counters = LeasedCounters(allocator, scope, line=line, range_size=range_size)
        self._lock = threading.Lock()

    def take(self) -> Sscc:
        return self.take_many(1)[0]

    def take_many(self, count: int) -> list[Sscc]:
        if count < 0:
            raise ConfigError(f"count: expected a whole number >= 0, got {count}")
        taken: list[Sscc] = []
        with self._lock:
            while len(taken) < count:
                for reference in self._counters.take(count - len(taken)):
                    taken.append(Sscc.build(self._extension, self._company_prefix, reference))
        return taken

    @property
    def state(self) -> PoolState:
        with self._lock:
            return self._counters.state()
