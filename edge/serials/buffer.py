"""The line's buffer of ready-made serials and SSCCs from the serial authority.

One SQLite file (``journal_mode=WAL``, ``synchronous=FULL``). Per *scope* (``sgtin`` + GTIN,
or ``sscc`` + extension digit and company prefix) the values received are numbered in
arrival order (``seq``); a pool is stored whole, in one transaction, before any of its values
is used, and the authority's pool (id, positions) is kept for ever, so a pool that overlaps
one received before is refused (the authority lost track: restored from a backup).

**Taking** is from memory, in *reservations* of ``chunk`` values: a reservation is committed
(fsync) before its first value is handed out. After a crash the values handed out from the
last reservation are unknown, so the whole reservation counts as handed out: the next one
starts after it. Nothing handed out is ever handed out again.

**Books.** :meth:`SerialBuffer.settle` looks up every value handed out so far in the line's
own records (``lookup``: the unit or case that carries it, if any) and queues a report to
the authority: used, destroyed, or returned (handed out but never printed, e.g. the rest of
a reservation cut short by a crash). Values still in flight stay for the next settlement.
The report queue is in the same file and is sent by :mod:`edge.serials.link`.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gs1
from edge.serials.errors import AuthorityError, BufferEmptyError, ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pools (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    authority_id  INTEGER NOT NULL,
    start         INTEGER NOT NULL,
    stop          INTEGER NOT NULL CHECK (stop > start),
    first_seq     INTEGER NOT NULL,
    request_token TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    UNIQUE (kind, scope, authority_id)
);
CREATE TABLE IF NOT EXISTS buffered (
    kind   TEXT NOT NULL,
    scope  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (kind, scope, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS buffered_value ON buffered (kind, scope, value);
CREATE TABLE IF NOT EXISTS cursors (
    kind          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    next_seq      INTEGER NOT NULL,
    reserved_stop INTEGER NOT NULL,
    PRIMARY KEY (kind, scope)
);
CREATE TABLE IF NOT EXISTS requests (
    kind    TEXT NOT NULL,
    scope   TEXT NOT NULL,
    token   TEXT NOT NULL,
    count   INTEGER NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (kind, scope)
);
CREATE TABLE IF NOT EXISTS reports (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,
    scope    TEXT NOT NULL,
    body     TEXT NOT NULL,
    created  TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error    TEXT
);
"""

#: Values per durable reservation: one fsync per this many units.
DEFAULT_CHUNK = 256
#: Values per report sent to the authority (it takes up to 50,000).
REPORT_CHUNK = 10_000
STATUSES = ("used", "destroyed", "returned")

Lookup = Callable[[str, str, Sequence[str]], dict[str, str | None]]
"""``lookup(kind, scope, values)``: what the line's records say of each value: ``used``,
``destroyed``, ``returned`` (never printed), or None (still in flight); a value the records
do not hold at all is left out (it was never printed: returned)."""


@dataclass(frozen=True)
class Scope:
    """``sgtin`` + GTIN-14, or ``sscc`` + extension digit + company prefix."""

    kind: str
    name: str

    @classmethod
    def sgtin(cls, gtin: str) -> Scope:
        return cls("sgtin", gs1.Gtin.parse(gtin).value)

    @classmethod
    def sscc(cls, extension: int, company_prefix: str) -> Scope:
        gs1.Sscc.build(extension, company_prefix, 0)  # validates both
        return cls("sscc", f"{extension}{company_prefix}")

    def request_fields(self) -> dict[str, Any]:
        """How the authority's API names the scope."""
        if self.kind == "sgtin":
            return {"kind": "sgtin", "gtin": self.name}
        return {"kind": "sscc", "extension": int(self.name[0]), "company_prefix": self.name[1:]}

    def check_value(self, value: Any) -> str:
        """``value`` if it can be an identifier of this scope, else AuthorityError."""
        if not isinstance(value, str):
            raise AuthorityError(f"pool: expected identifiers as strings, got {value!r}")
        try:
            if self.kind == "sgtin":
                return gs1.validate_cset82(value, field="serial")
            sscc = gs1.Sscc.parse(value)
        except gs1.Gs1Error as exc:
            raise AuthorityError(f"pool: {exc}") from None
        if not sscc.value.startswith(self.name):
            raise AuthorityError(f"pool: expected SSCCs of {self}, got {value!r}")
        return value

    def __str__(self) -> str:
        if self.kind == "sgtin":
            return f"GTIN {self.name}"
        return f"SSCC prefix {self.name[1:]} (extension {self.name[0]})"


@dataclass(frozen=True)
class Sizing:
    """How much of a scope the line keeps: ``rate_per_minute`` consumed at full speed."""

    rate_per_minute: float
    target: int  # refill up to this many values
    low_water: int  # refill when fewer are left
    pool_size: int  # values per request

    @classmethod
    def hours(
        cls, rate_per_minute: float, buffer_hours: float, low_water_hours: float, pool_size: int
    ) -> Sizing:
        if not 0 < low_water_hours <= buffer_hours:
            raise ConfigError(
                f"low_water_hours: expected more than 0 and at most buffer_hours "
                f"({buffer_hours:g}), got {low_water_hours:g}"
            )
        target = max(1, math.ceil(buffer_hours * 60 * rate_per_minute))
        low = max(1, math.ceil(low_water_hours * 60 * rate_per_minute))
        return cls(rate_per_minute, target, min(low, target), pool_size)


@dataclass
class _Taking:
    """A scope's values in memory: the current reservation and what is left of it."""

    values: list[str] = field(default_factory=list)
    position: int = 0  # next index in values
    first_seq: int = 0  # seq of values[0]
    reserved_stop: int = 0  # seq after the reservation
    last_seq: int = -1  # highest seq in the buffer

    @property
    def next_seq(self) -> int:
        return self.first_seq + self.position

    @property
    def remaining(self) -> int:
        return self.last_seq + 1 - self.next_seq


@dataclass(frozen=True)
class ReceivedPool:
    """A pool as the authority sent it (already checked by :meth:`SerialBuffer.store_pool`)."""

    authority_id: int
    start: int
    stop: int
    values: list[str]


class SerialBuffer:
    """Durable buffer of the scopes a line packs. Thread-safe."""

    def __init__(
        self,
        path: Path,
        sizing: dict[Scope, Sizing],
        *,
        chunk: int = DEFAULT_CHUNK,
        on_low: Callable[[], None] | None = None,
    ) -> None:
        if chunk < 1:
            raise ConfigError(f"chunk: expected a whole number >= 1, got {chunk}")
        self.path = Path(path)
        self.sizing = dict(sizing)
        self._chunk = chunk
        self._on_low = on_low
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._connect()
        self._conn.executescript(_SCHEMA)
        self._taking: dict[Scope, _Taking] = {}
        with self._transaction() as conn:
            for scope in self.sizing:
                row = conn.execute(
                    "SELECT next_seq, reserved_stop FROM cursors WHERE kind = ? AND scope = ?",
                    (scope.kind, scope.name),
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO cursors (kind, scope, next_seq, reserved_stop) "
                        "VALUES (?, ?, 0, 0)",
                        (scope.kind, scope.name),
                    )
                    reserved = 0
                else:
                    reserved = int(row[1])  # a reservation cut short counts as handed out
                self._taking[scope] = _Taking(
                    first_seq=reserved, reserved_stop=reserved, last_seq=self._last_seq(conn, scope)
                )

    # -- taking ---------------------------------------------------------------------------

    def take(self, scope: Scope) -> str:
        """The next value of ``scope``; its reservation is on disk before it is returned.
        BufferEmptyError when nothing is left (the authority could not refill in time)."""
        with self._lock:
            taking = self._taking_of(scope)
            if taking.position >= len(taking.values):
                try:
                    self._reserve(scope, taking)
                except BufferEmptyError:
                    if self._on_low is not None:
                        self._on_low()  # try the authority again now
                    raise
            value = taking.values[taking.position]
            taking.position += 1
            low = taking.remaining < self.sizing[scope].low_water
        if low and self._on_low is not None:
            self._on_low()
        return value

    def _reserve(self, scope: Scope, taking: _Taking) -> None:
        start = taking.reserved_stop
        stop = min(start + self._chunk, taking.last_seq + 1)
        if stop <= start:
            raise BufferEmptyError(
                f"no {'serials' if scope.kind == 'sgtin' else 'SSCCs'} left for {scope}; the "
                "serial authority has not refilled the buffer"
            )
        with self._transaction() as conn:
            conn.execute(
                "UPDATE cursors SET next_seq = ?, reserved_stop = ? WHERE kind = ? AND scope = ?",
                (start, stop, scope.kind, scope.name),
            )
            rows = conn.execute(
                "SELECT value FROM buffered WHERE kind = ? AND scope = ? AND seq >= ? AND seq < ? "
                "ORDER BY seq",
                (scope.kind, scope.name, start, stop),
            ).fetchall()
        if len(rows) != stop - start:
            raise BufferEmptyError(f"values {start}..{stop - 1} of {scope} are missing")
        taking.values = [row[0] for row in rows]
        taking.position = 0
        taking.first_seq = start
        taking.reserved_stop = stop

    def _taking_of(self, scope: Scope) -> _Taking:
        taking = self._taking.get(scope)
        if taking is None:
            raise ConfigError(f"scope: this line does not buffer {scope}")
        return taking

    # -- filling ---------------------------------------------------------------------------

    def remaining(self, scope: Scope) -> int:
        with self._lock:
            return self._taking_of(scope).remaining

    def needs(self, scope: Scope, *, refilling: bool = False) -> int:
        """How many values to ask for next: nothing above the low-water mark (unless
        ``refilling``, i.e. a refill below it has begun), else a pool of at most ``pool_size``
        towards the target."""
        sizing = self.sizing[scope]
        left = self.remaining(scope)
        if left >= sizing.target or (left >= sizing.low_water and not refilling):
            return 0
        return min(sizing.pool_size, sizing.target - left)

    def request_token(self, scope: Scope, count: int) -> tuple[str, int]:
        """The token of the scope's pending request (a retry after a lost answer gets the
        same pool), or a new one, durable before it is sent; (token, count)."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT token, count FROM requests WHERE kind = ? AND scope = ?",
                (scope.kind, scope.name),
            ).fetchone()
            if row is not None:
                return str(row[0]), int(row[1])
            token = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO requests (kind, scope, token, count, created) VALUES (?, ?, ?, ?, ?)",
                (scope.kind, scope.name, token, count, _now()),
            )
            return token, count

    def forget_request(self, scope: Scope) -> None:
        """Drop the pending request (refused for good, e.g. the scope is exhausted)."""
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM requests WHERE kind = ? AND scope = ?", (scope.kind, scope.name)
            )

    def high_water(self, scope: Scope) -> int | None:
        """The highest stop position the line ever received for the scope."""
        row = self._conn_read(
            "SELECT max(stop) FROM pools WHERE kind = ? AND scope = ?", (scope.kind, scope.name)
        )
        return None if row is None or row[0] is None else int(row[0])

    def store_pool(self, scope: Scope, token: str, pool: dict[str, Any]) -> ReceivedPool:
        """Check and store a pool as received (one transaction) and clear its request.
        AuthorityError (nothing stored) if it is not a pool of the scope, or if any of it
        overlaps what this line received before."""
        received = _check_pool(scope, pool)
        with self._lock:
            taking = self._taking_of(scope)
            with self._transaction() as conn:
                known = conn.execute(
                    "SELECT authority_id, start, stop FROM pools WHERE kind = ? AND scope = ? "
                    "AND (authority_id = ? OR (start < ? AND stop > ?))",
                    (scope.kind, scope.name, received.authority_id, received.stop, received.start),
                ).fetchone()
                if known is not None:
                    if tuple(known) == (received.authority_id, received.start, received.stop):
                        conn.execute(
                            "DELETE FROM requests WHERE kind = ? AND scope = ? AND token = ?",
                            (scope.kind, scope.name, token),
                        )
                        return received  # the same pool again: already stored
                    raise AuthorityError(
                        f"pool {received.authority_id} of {scope} (positions {received.start}.."
                        f"{received.stop - 1}) overlaps pool {known[0]} received before "
                        f"({known[1]}..{known[2] - 1}): the authority lost track of what it "
                        "handed out (restored from a backup?)"
                    )
                first = self._last_seq(conn, scope) + 1
                try:
                    conn.executemany(
                        "INSERT INTO buffered (kind, scope, seq, value) VALUES (?, ?, ?, ?)",
                        [
                            (scope.kind, scope.name, first + i, value)
                            for i, value in enumerate(received.values)
                        ],
                    )
                except sqlite3.IntegrityError:
                    raise AuthorityError(
                        f"pool {received.authority_id} of {scope}: a value this line received "
                        "before is in it again"
                    ) from None
                conn.execute(
                    "INSERT INTO pools (kind, scope, authority_id, start, stop, first_seq, "
                    "request_token, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        scope.kind,
                        scope.name,
                        received.authority_id,
                        received.start,
                        received.stop,
                        first,
                        token,
                        _now(),
                    ),
                )
                conn.execute(
                    "DELETE FROM requests WHERE kind = ? AND scope = ? AND token = ?",
                    (scope.kind, scope.name, token),
                )
            taking.last_seq = first + len(received.values) - 1
        return received

    # -- books -----------------------------------------------------------------------------

    def settle(self, scope: Scope, lookup: Lookup, *, return_rest: bool = False) -> dict[str, int]:
        """Queue a report of every value handed out so far that the line's records settle
        (used, destroyed, returned); with ``return_rest`` also return every value not handed
        out yet (the buffer of the scope is emptied). Counts per status queued."""
        with self._lock:
            taking = self._taking_of(scope)
            mark = taking.next_seq
            with self._write:
                rows = self._conn.execute(
                    "SELECT seq, value FROM buffered WHERE kind = ? AND scope = ? AND seq < ? "
                    "ORDER BY seq",
                    (scope.kind, scope.name, mark),
                ).fetchall()
            found = lookup(scope.kind, scope.name, [value for _seq, value in rows]) if rows else {}
            report: dict[str, list[str]] = {status: [] for status in STATUSES}
            settled: list[int] = []
            for seq, value in rows:
                status = found.get(value, "returned")  # not on record: never printed
                if status is None:
                    continue  # in flight: next time
                report[status].append(value)
                settled.append(seq)
            if return_rest:
                with self._write:
                    rest = self._conn.execute(
                        "SELECT seq, value FROM buffered WHERE kind = ? AND scope = ? "
                        "AND seq >= ? ORDER BY seq",
                        (scope.kind, scope.name, mark),
                    ).fetchall()
                report["returned"] += [value for _seq, value in rest]
                settled += [seq for seq, _value in rest]
            with self._transaction() as conn:
                self._queue(conn, scope, report)
                conn.executemany(
                    "DELETE FROM buffered WHERE kind = ? AND scope = ? AND seq = ?",
                    [(scope.kind, scope.name, seq) for seq in settled],
                )
                if return_rest:
                    stop = taking.last_seq + 1
                    conn.execute(
                        "UPDATE cursors SET next_seq = ?, reserved_stop = ? "
                        "WHERE kind = ? AND scope = ?",
                        (stop, stop, scope.kind, scope.name),
                    )
            if return_rest:
                taking.values, taking.position = [], 0
                taking.first_seq = taking.reserved_stop = taking.last_seq + 1
        return {status: len(values) for status, values in report.items()}

    def _queue(self, conn: sqlite3.Connection, scope: Scope, report: dict[str, list[str]]) -> None:
        items = [(status, value) for status in STATUSES for value in report[status]]
        for start in range(0, len(items), REPORT_CHUNK):
            body: dict[str, list[str]] = {status: [] for status in STATUSES}
            for status, value in items[start : start + REPORT_CHUNK]:
                body[status].append(value)
            conn.execute(
                "INSERT INTO reports (kind, scope, body, created) VALUES (?, ?, ?, ?)",
                (scope.kind, scope.name, json.dumps(body), _now()),
            )

    def pending_reports(self, limit: int = 10) -> list[tuple[int, Scope, dict[str, list[str]]]]:
        """Reports not yet accepted by the authority, oldest first."""
        with self._write:
            rows = self._conn.execute(
                "SELECT id, kind, scope, body FROM reports ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [(int(r[0]), Scope(r[1], r[2]), json.loads(r[3])) for r in rows]

    def report_sent(self, report_id: int) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM reports WHERE id = ?", (report_id,))

    def report_failed(self, report_id: int, error: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE reports SET attempts = attempts + 1, error = ? WHERE id = ?",
                (error[:2000], report_id),
            )

    def report_count(self) -> int:
        row = self._conn_read("SELECT count(*) FROM reports", ())
        return 0 if row is None else int(row[0])

    # -- state -----------------------------------------------------------------------------

    def state(self) -> list[dict[str, Any]]:
        """Per scope: values left, the target and low-water mark, and the time they last at
        the configured rate."""
        out = []
        with self._lock:
            for scope, taking in self._taking.items():
                sizing = self.sizing[scope]
                minutes = taking.remaining / sizing.rate_per_minute
                out.append(
                    {
                        "kind": scope.kind,
                        "scope": scope.name,
                        "remaining": taking.remaining,
                        "target": sizing.target,
                        "low_water": sizing.low_water,
                        "rate_per_minute": sizing.rate_per_minute,
                        "minutes_left": round(minutes, 1),
                        "low": taking.remaining < sizing.low_water,
                    }
                )
        return out

    def close(self) -> None:
        with self._write:
            self._conn.close()

    # -- plumbing --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _conn_read(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._write:
            return self._conn.execute(sql, params).fetchone()

    @staticmethod
    def _last_seq(conn: sqlite3.Connection, scope: Scope) -> int:
        row = conn.execute(
            "SELECT max(first_seq + stop - start) - 1 FROM pools WHERE kind = ? AND scope = ?",
            (scope.kind, scope.name),
        ).fetchone()
        return -1 if row is None or row[0] is None else int(row[0])


def _check_pool(scope: Scope, pool: Any) -> ReceivedPool:
    if not isinstance(pool, dict):
        raise AuthorityError(f"pool: expected an object, got {type(pool).__name__}")
    kind, name = pool.get("kind"), pool.get("scope")
    if (kind, name) != (scope.kind, scope.name):
        raise AuthorityError(f"pool: expected a pool of {scope}, got {kind!r} {name!r}")
    numbers = [pool.get(k) for k in ("id", "start", "stop")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise AuthorityError(f"pool: expected whole numbers id, start, stop, got {numbers!r}")
    authority_id, start, stop = (int(n) for n in numbers)  # type: ignore[arg-type]
    values = pool.get("serial_numbers")
    if not isinstance(values, list) or len(values) != stop - start or not values:
        raise AuthorityError(
            f"pool: expected {stop - start} serial_numbers for positions {start}..{stop - 1}, "
            f"got {len(values) if isinstance(values, list) else values!r}"
        )
    checked = [scope.check_value(v) for v in values]
    if len(set(checked)) != len(checked):
        raise AuthorityError(f"pool {authority_id}: a value appears twice in it")
    return ReceivedPool(authority_id, start, stop, checked)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
