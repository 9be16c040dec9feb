"""Durable counter ranges: a counter is handed out once, ever, across lines and crashes.

Each *scope* (the serials of one GTIN, or the SSCC serial references of one extension digit
and company prefix) has one ``next_counter`` in a SQLite database. A line asks for a *lease*
of ``size`` consecutive counters; the lease is committed (``journal_mode=WAL``,
``synchronous=FULL``: the WAL is fsynced at commit) before :meth:`CounterAllocator.lease`
returns, so no serial of the range can leave the process before its allocation is on disk.
Leases are taken under ``BEGIN IMMEDIATE``, so lines in other threads or processes that share
the database file always get disjoint ranges.

A lease, once granted, is consumed: after a crash or restart its unused remainder is never
handed out again. That wastes at most one range per line per restart and needs no record of
which counters were printed. One fsync per range amortises durability over the range.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gs1.serials.errors import ConfigError, ExhaustedError, SchemeMismatchError

#: SQLite integers are signed 64-bit; no scope issues counters beyond this.
COUNTER_MAX = (1 << 63) - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    scheme TEXT NOT NULL,
    next_counter INTEGER NOT NULL CHECK (next_counter >= 0),
    PRIMARY KEY (kind, scope)
);
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    line TEXT NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL CHECK (stop > start),
    leased_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_by_scope ON leases (kind, scope, start);
"""


@dataclass(frozen=True)
class CounterScope:
    """What a counter counts: ``kind`` (``sgtin``/``sscc``) and ``name`` (GTIN-14, or
    extension digit + company prefix), the ``scheme`` it is pinned to (a scope never changes
    scheme, or two schemes could write the same serial), and how many counters it may issue."""

    kind: str
    name: str
    scheme: str
    limit: int


@dataclass(frozen=True)
class Lease:
    """Counters ``start .. stop-1`` of a scope, granted durably to one line."""

    id: int
    kind: str
    scope: str
    line: str
    start: int
    stop: int
    leased_at: datetime

    @property
    def size(self) -> int:
        return self.stop - self.start


class CounterAllocator:
    """Grants disjoint, durable counter ranges from a SQLite file.

    Opens one short-lived connection per call, so one instance may be shared by threads and
    any number of processes may use the same file.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self._path = Path(path)
        self._busy_timeout = busy_timeout
        with self._connection() as conn:
            conn.executescript(_SCHEMA)

    @property
    def path(self) -> Path:
        return self._path

    def lease(self, scope: CounterScope, line: str, size: int) -> Lease:
        """Grant up to ``size`` counters (fewer only at the end of the scope); durable on return."""
        if not line or not line.isprintable():
            raise ConfigError(f"line: expected a non-empty printable line id, got {line!r}")
        if size < 1:
            raise ConfigError(f"range size: expected a whole number >= 1, got {size}")
        limit = min(scope.limit, COUNTER_MAX)
        with self._transaction() as conn:
            start = self._next_counter(conn, scope)
            if start >= limit:
                raise ExhaustedError(
                    f"{scope.kind} {scope.name}: all {limit:,} counters allowed for scheme "
                    f"{scope.scheme} have been leased"
                )
            return self._grant(conn, scope, line, start, min(start + size, limit))

    def raise_floor(self, scope: CounterScope, next_counter: int, *, line: str) -> Lease | None:
        """Treat every counter below ``next_counter`` as used, e.g. after restoring a backup
        of this database: pass one more than the highest counter known to be issued. Records
        the skipped counters as a lease to ``line``; returns ``None`` if none were skipped."""
        if not 0 <= next_counter <= min(scope.limit, COUNTER_MAX):
            raise ConfigError(
                f"next counter: expected 0..{min(scope.limit, COUNTER_MAX)}, got {next_counter}"
            )
        with self._transaction() as conn:
            start = self._next_counter(conn, scope)
            if next_counter <= start:
                return None
            return self._grant(conn, scope, line, start, next_counter)

    def next_counter(self, scope: CounterScope) -> int:
        """The first counter not yet leased (0 for a scope never seen)."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT next_counter FROM counters WHERE kind = ? AND scope = ?",
                (scope.kind, scope.name),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def leases(self, kind: str, scope: str) -> list[Lease]:
        """Every lease of a scope, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT id, kind, scope, line, start, stop, leased_at FROM leases "
                "WHERE kind = ? AND scope = ? ORDER BY start",
                (kind, scope),
            ).fetchall()
        return [_lease(row) for row in rows]

    @staticmethod
    def _next_counter(conn: sqlite3.Connection, scope: CounterScope) -> int:
        row = conn.execute(
            "SELECT scheme, next_counter FROM counters WHERE kind = ? AND scope = ?",
            (scope.kind, scope.name),
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO counters (kind, scope, scheme, next_counter) VALUES (?, ?, ?, 0)",
                (scope.kind, scope.name, scope.scheme),
            )
            return 0
        if row[0] != scope.scheme:
            raise SchemeMismatchError(
                f"{scope.kind} {scope.name}: expected scheme {row[0]!r} (pinned at its first "
                f"lease), got {scope.scheme!r}"
            )
        return int(row[1])

    @staticmethod
    def _grant(
        conn: sqlite3.Connection, scope: CounterScope, line: str, start: int, stop: int
    ) -> Lease:
        leased_at = datetime.now(UTC)
        conn.execute(
            "UPDATE counters SET next_counter = ? WHERE kind = ? AND scope = ?",
            (stop, scope.kind, scope.name),
        )
        cursor = conn.execute(
            "INSERT INTO leases (kind, scope, line, start, stop, leased_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scope.kind, scope.name, line, start, stop, leased_at.isoformat()),
        )
        assert cursor.lastrowid is not None
        return Lease(cursor.lastrowid, scope.kind, scope.name, line, start, stop, leased_at)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _lease(row: tuple[int, str, str, str, int, int, str]) -> Lease:
    return Lease(row[0], row[1], row[2], row[3], row[4], row[5], datetime.fromisoformat(row[6]))
