"""The serial authority: pools of serials and SSCCs for lines, and the books of what became
of each one.

Lines get **ready-made serials**, never the FF3-1 key: the key stays here, so a line (or a
stolen line PC) cannot compute the serials other lines or later batches will get, and a GTIN's
randomisation stays unguessable however many lines pack it. The price is bandwidth (a pool of
10,000 twelve-digit serials is about 150 KB of JSON), which a line pays once per pool.

**Never twice.** A scope (a GTIN's serials, or an extension digit + company prefix's SSCCs)
has one ``next_position`` that only grows. A grant locks the scope's row (SQLite: the write
transaction is ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT … FOR UPDATE``), appends the new high
water to the :class:`~server.serials.journal.HighWaterJournal` (fsync), moves
``next_position`` and records the pool, and commits; only then does the pool leave. A retried
request (same ``request_token`` from the same line) gets the same pool back, so a lost answer
wastes nothing. After a crash the committed state is the truth; after a restore from backup,
the journal (and every line's own high water, sent with each request) raises the counters
above everything handed out before.

**Books.** Each position is issued (in a pool to one line), then reported by that line as
``used`` (a unit or case in the supply chain), ``destroyed`` (printed, then rejected, scrapped,
sampled or decommissioned) or ``returned`` (never printed). Returned positions are never handed
out again: the authority gives up a little space rather than trust that a label was not
printed.
"""

from __future__ import annotations

import bisect
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update

import gs1
from gs1.serials import (
    ConfigError,
    GuessingRiskError,
    SerialFormatError,
    SerialGenerator,
    SerialKey,
    SerialPlan,
    SerialScheme,
    alphabet_named,
)
from server import audit
from server.auth import Role, User
from server.serials.errors import (
    Conflict,
    Exhausted,
    NotALine,
    Refused,
    Unavailable,
    UnknownScope,
)
from server.serials.journal import HighWaterJournal
from server.serials.tables import (
    serial_imports,
    serial_lines,
    serial_list_values,
    serial_pools,
    serial_scopes,
    serial_states,
)
from server.store import read_transaction, write_transaction
from server.store.dialect import IN_CHUNK, bulk_insert, chunks
from server.store.schema import alerts, containers, units, users

KINDS = ("sgtin", "sscc")
STATUSES = ("used", "destroyed", "returned")
#: A line may move a position from used to destroyed (decommissioned later); nothing else.
_ALLOWED_CHANGES = {("used", "destroyed")}
#: Pools that skip positions (after a restore, or raised by hand) belong to this pseudo-line.
FLOOR_USER, FLOOR_SITE, FLOOR_LINE = "authority", "-", "floor"
MAX_REPORT = 50_000
_SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class ScopeKey:
    """What a scope counts: ``sgtin`` + GTIN-14, or ``sscc`` + extension digit + prefix."""

    kind: str
    name: str

    @classmethod
    def sgtin(cls, gtin: str) -> ScopeKey:
        try:
            return cls("sgtin", gs1.Gtin.parse(gtin).value)
        except gs1.Gs1Error as exc:
            raise Refused(str(exc)) from None

    @classmethod
    def sscc(cls, extension: int, company_prefix: str) -> ScopeKey:
        try:
            gs1.Sscc.build(extension, company_prefix, 0)
        except gs1.Gs1Error as exc:
            raise Refused(str(exc)) from None
        return cls("sscc", f"{extension}{company_prefix}")

    @classmethod
    def parse(cls, kind: str, name: str) -> ScopeKey:
        """From the path form: ``sgtin/{GTIN}`` or ``sscc/{extension}{company prefix}``."""
        if kind == "sgtin":
            return cls.sgtin(name)
        if kind == "sscc":
            if not (7 <= len(name) <= 13 and name.isdigit()):
                raise Refused(
                    f"scope: expected an extension digit and a 6 to 12 digit company prefix, "
                    f"got {name!r}"
                )
            return cls.sscc(int(name[0]), name[1:])
        raise Refused(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")

    @property
    def extension(self) -> int:
        return int(self.name[0])

    @property
    def company_prefix(self) -> str:
        return self.name[1:]

    def __str__(self) -> str:
        if self.kind == "sgtin":
            return f"GTIN {self.name}"
        return f"SSCC extension {self.name[0]}, company prefix {self.name[1:]}"


@dataclass(frozen=True)
class Scope:
    id: int
    key: ScopeKey
    scheme: str
    next_position: int
    limit_position: int
    volume: int | None
    created_at: datetime

    @property
    def is_list(self) -> bool:
        return self.scheme == "list"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "scope": self.key.name,
            "scheme": self.scheme,
            "next_position": self.next_position,
            "limit_position": self.limit_position,
            "volume": self.volume,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class LineIdentity:
    username: str
    site: str
    line: str

    @property
    def name(self) -> str:
        return f"{self.site}/{self.line}"


@dataclass(frozen=True)
class Pool:
    """Positions ``start .. stop-1`` of a scope, handed to one line; ``values`` in order."""

    id: int
    key: ScopeKey
    scheme: str
    site: str
    line: str
    start: int
    stop: int
    issued_at: datetime
    values: list[str]
    request_token: str
    insufficient: bool = False  # fewer than asked: the scope is at its limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.key.kind,
            "scope": self.key.name,
            "scheme": self.scheme,
            "site": self.site,
            "line": self.line,
            "start": self.start,
            "stop": self.stop,
            "count": self.stop - self.start,
            "issued_at": self.issued_at.isoformat(),
            "request_token": self.request_token,
            "state": "allocated",
            "serial_numbers": self.values,
        }


@dataclass
class ReportResult:
    """What a line's report changed in the books."""

    recorded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    unchanged: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (value, why)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (value, was, now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "unchanged": self.unchanged,
            "refused": [{"value": v, "reason": r} for v, r in self.refused],
            "conflicts": [{"value": v, "recorded": o, "reported": n} for v, o, n in self.conflicts],
        }


@dataclass(frozen=True)
class ScopeSummary:
    scope: Scope
    issued: int  # positions in pools to lines
    skipped: int  # positions in floor pools (restore, raised by hand)
    used: int
    destroyed: int
    returned: int
    lines: dict[str, dict[str, int]]

    @property
    def outstanding(self) -> int:
        """Issued to a line and not reported yet (in a line's buffer, or in flight)."""
        return self.issued - self.used - self.destroyed - self.returned

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.scope.as_dict(),
            "issued": self.issued,
            "skipped": self.skipped,
            "used": self.used,
            "destroyed": self.destroyed,
            "returned": self.returned,
            "outstanding": self.outstanding,
            "lines": self.lines,
        }


# -- what a position means: one codec per scheme ------------------------------------------------


class _Codec:
    """Position <-> value for one scope."""

    def values(self, conn: Connection, start: int, stop: int) -> list[str]:
        raise NotImplementedError

    def positions(
        self, conn: Connection, values: Sequence[str]
    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """(value -> position for the values that belong to the scope, [(value, why not)])."""
        raise NotImplementedError


class _Ff31Codec(_Codec):
    def __init__(self, generator: SerialGenerator) -> None:
        self.generator = generator

    def values(self, conn: Connection, start: int, stop: int) -> list[str]:
        return self.generator.serials(start, stop)

    def positions(
        self, conn: Connection, values: Sequence[str]
    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        found: dict[str, int] = {}
        problems: list[tuple[str, str]] = []
        for value in values:
            try:
                found[value] = self.generator.counter_of(value)
            except SerialFormatError as exc:
                problems.append((value, str(exc)))
        return found, problems


class _SequentialSsccCodec(_Codec):
    def __init__(self, key: ScopeKey) -> None:
        self.key = key

    def values(self, conn: Connection, start: int, stop: int) -> list[str]:
        extension, prefix = self.key.extension, self.key.company_prefix
        return [gs1.Sscc.build(extension, prefix, ref).value for ref in range(start, stop)]

    def positions(
        self, conn: Connection, values: Sequence[str]
    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        found: dict[str, int] = {}
        problems: list[tuple[str, str]] = []
        head = self.key.name
        for value in values:
            try:
                sscc = gs1.Sscc.parse(value)
            except gs1.Gs1Error as exc:
                problems.append((value, str(exc)))
                continue
            if not sscc.value.startswith(head):
                problems.append((value, f"sscc: expected one of {self.key}, got {value!r}"))
                continue
            found[value] = int(sscc.value[len(head) : 17])
        return found, problems


class _ListCodec(_Codec):
    def __init__(self, scope_id: int, key: ScopeKey) -> None:
        self.scope_id = scope_id
        self.key = key

    def values(self, conn: Connection, start: int, stop: int) -> list[str]:
        values = list(
            conn.execute(
                select(serial_list_values.c.value)
                .where(
                    serial_list_values.c.scope_id == self.scope_id,
                    serial_list_values.c.position >= start,
                    serial_list_values.c.position < stop,
                )
                .order_by(serial_list_values.c.position)
            ).scalars()
        )
        if len(values) != stop - start:
            raise Unavailable(
                f"{self.key}: positions {start}..{stop - 1} are missing from the imported lists"
            )
        return values

    def positions(
        self, conn: Connection, values: Sequence[str]
    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        found: dict[str, int] = {}
        for chunk in chunks(list(values)):
            rows = conn.execute(
                select(serial_list_values.c.value, serial_list_values.c.position).where(
                    serial_list_values.c.scope_id == self.scope_id,
                    serial_list_values.c.value.in_(chunk),
                )
            )
            found.update({row.value: int(row.position) for row in rows})
        problems = [
            (value, f"{value!r} is not in the lists imported for {self.key}")
            for value in values
            if value not in found
        ]
        return found, problems


# -- the authority --------------------------------------------------------------------------


class SerialAuthority:
    """Hands out pools, keeps the books, imports lists. One per server process; thread-safe
    (all state is in the database, the journal serialises its own appends)."""

    def __init__(
        self,
        engine: Engine,
        *,
        key: SerialKey | None,
        journal: HighWaterJournal | None,
        max_pool: int = 100_000,
    ) -> None:
        self.engine = engine
        self.key = key
        self.journal = journal
        self.max_pool = max_pool
        self._generators: dict[tuple[str, str], SerialGenerator] = {}

    # -- start-up: the journal ----------------------------------------------------------

    def reconcile_journal(self, *, now: datetime) -> dict[ScopeKey, tuple[int, int]]:
        """Raise every scope whose ``next_position`` is below its journal high water (the
        database was restored from a backup); returns {scope: (was, now)}."""
        if self.journal is None:
            return {}
        raised: dict[ScopeKey, tuple[int, int]] = {}
        for (kind, name), stop in sorted(self.journal.high_waters().items()):
            key = ScopeKey(kind, name)
            with write_transaction(self.engine) as conn:
                scope = self._find_scope(conn, key, lock=True)
                if scope is None or scope.next_position >= stop:
                    continue
                self._skip(conn, scope, stop, why="journal", now=now)
                raised[key] = (scope.next_position, stop)
        return raised

    # -- registration ----------------------------------------------------------------------

    def register_gtin(
        self,
        gtin: str,
        scheme: SerialScheme,
        volume: int,
        *,
        actor: str,
        reason: str,
        now: datetime,
    ) -> Scope:
        """Let the authority generate the GTIN's serials with ``scheme`` (pinned for life).

        Refused if the planned ``volume`` breaks the EU FMD limit. Serials of this GTIN the
        trace server already knows (commissioned before, e.g. by lines with local allocators)
        would be issued again when the counter reaches them, so the counter starts above the
        highest of them; if that leaves too little (they were made with another key), the
        registration is refused."""
        key = ScopeKey.sgtin(gtin)
        try:
            plan = SerialPlan(scheme, volume).require_acceptable()
        except (GuessingRiskError, ConfigError) as exc:
            raise Refused(str(exc)) from None
        generator = self._generator(key, scheme)
        with write_transaction(self.engine) as conn:
            existing = self._find_scope(conn, key, lock=True)
            if existing is not None:
                if existing.scheme != generator.scheme_id:
                    raise Conflict(
                        f"{key}: already pinned to {existing.scheme!r}; a GTIN keeps its "
                        f"scheme and key for life (got {generator.scheme_id!r})"
                    )
                return existing
            floor = self._known_serials_floor(conn, key, generator)
            limit = generator.max_counters
            if floor > limit // 2:
                raise Conflict(
                    f"{key}: the trace server knows serials of this GTIN that this scheme and "
                    f"key would issue again (the highest is counter {floor - 1:,} of "
                    f"{limit:,}); register it with the key and scheme the lines used, or use "
                    "another GTIN"
                )
            floor = max(floor, self._journal_floor(key))
            scope = self._create_scope(
                conn, key, generator.scheme_id, floor, limit, plan.volume, actor, now
            )
            audit.append(
                conn,
                actor=actor,
                action="serial_scope_register",
                entity="serial_scope",
                entity_key=f"sgtin:{key.name}",
                old_value=None,
                new_value={
                    "scheme": scope.scheme,
                    "volume": plan.volume,
                    "first_counter": floor,
                    "probability": float(plan.probability),
                },
                reason=reason,
                now=now,
            )
        return scope

    def register_sscc(
        self, extension: int, company_prefix: str, *, actor: str, reason: str, now: datetime
    ) -> Scope:
        """Let the authority count the SSCC serial references of this extension digit and
        company prefix (sequential), above any SSCC of the prefix the trace server knows."""
        key = ScopeKey.sscc(extension, company_prefix)
        width = 16 - len(company_prefix)
        scheme = f"sequential/{width}"
        with write_transaction(self.engine) as conn:
            existing = self._find_scope(conn, key, lock=True)
            if existing is not None:
                if existing.scheme != scheme:
                    raise Conflict(f"{key}: already pinned to {existing.scheme!r}")
                return existing
            top = conn.execute(
                select(func.max(containers.c.sscc)).where(containers.c.sscc.like(f"{key.name}%"))
            ).scalar()
            floor = 0 if top is None else int(str(top)[len(key.name) : 17]) + 1
            floor = max(floor, self._journal_floor(key))
            scope = self._create_scope(conn, key, scheme, floor, 10**width, None, actor, now)
            audit.append(
                conn,
                actor=actor,
                action="serial_scope_register",
                entity="serial_scope",
                entity_key=f"sscc:{key.name}",
                old_value=None,
                new_value={"scheme": scheme, "first_reference": floor},
                reason=reason,
                now=now,
            )
        return scope

    def register_line(
        self, username: str, site: str, line: str, *, actor: str, reason: str, now: datetime
    ) -> LineIdentity:
        """Bind a device identity (a user with role ``device``) to one line: it may take pools
        and report for that line only."""
        for name, value in (("site", site), ("line", line)):
            if not value or len(value) > 64 or not value.isprintable() or "/" in value:
                raise Refused(
                    f"{name}: expected 1 to 64 printable characters without '/', got {value!r}"
                )
        with write_transaction(self.engine) as conn:
            role = conn.execute(
                select(users.c.role).where(users.c.username == username, users.c.active == 1)
            ).scalar()
            if role != "device":
                raise Refused(
                    f"username: expected an active user with role 'device', got {username!r} "
                    f"({'no such user' if role is None else 'role ' + repr(role)})"
                )
            user = User(0, username, Role.DEVICE)
            taken = conn.execute(
                select(serial_lines).where(
                    (serial_lines.c.username == user.username)
                    | and_(serial_lines.c.site == site, serial_lines.c.line == line)
                )
            ).first()
            if taken is not None:
                if (taken.username, taken.site, taken.line) == (user.username, site, line):
                    return LineIdentity(user.username, site, line)
                raise Conflict(
                    f"line: {taken.username!r} is already line {taken.site}/{taken.line}"
                )
            conn.execute(
                serial_lines.insert(),
                {"username": user.username, "site": site, "line": line, "created_at": now},
            )
            audit.append(
                conn,
                actor=actor,
                action="serial_line_register",
                entity="serial_line",
                entity_key=f"{site}/{line}",
                old_value=None,
                new_value={"username": user.username},
                reason=reason,
                now=now,
            )
        return LineIdentity(user.username, site, line)

    # -- pools -------------------------------------------------------------------------------

    def grant(
        self,
        user: User,
        key: ScopeKey,
        count: int,
        request_token: str,
        *,
        high_water: int | None = None,
        now: datetime,
    ) -> Pool:
        """A pool of up to ``count`` positions for the caller's line, recorded durably (journal
        and database) before this returns. The same ``request_token`` from the same line gets
        the same pool. The journal's high water of the scope, and ``high_water`` (the highest
        stop the line ever received for the scope), above ``next_position`` mean the database
        lost pools (restored, or failed over): the scope is raised to them first."""
        if not 1 <= count <= self.max_pool:
            raise Refused(f"count: expected 1..{self.max_pool}, got {count}")
        _check_token(request_token)
        with write_transaction(self.engine) as conn:
            line = self._line(conn, user)
            again = conn.execute(
                select(serial_pools).where(
                    serial_pools.c.username == user.username,
                    serial_pools.c.request_token == request_token,
                )
            ).first()
            if again is not None:
                scope = self._scope_by_id(conn, int(again.scope_id))
                if scope.key != key:
                    raise Conflict(
                        f"request_token: {request_token!r} was used for {scope.key}, not {key}"
                    )
                codec = self._codec(scope)
                values = codec.values(conn, int(again.start), int(again.stop))
                return _pool(again, scope, values)
            scope = self._scope(conn, key, lock=True)
            codec = self._codec(scope)
            journal_floor = self._journal_floor(key)
            if journal_floor > scope.next_position:  # the database went back under us
                self._skip(conn, scope, journal_floor, why="journal", now=now)
                scope = self._scope(conn, key, lock=True)
            if high_water is not None and high_water > scope.next_position:
                if high_water > scope.limit_position:
                    raise Refused(
                        f"high_water: expected at most {scope.limit_position}, got {high_water}"
                    )
                self._skip(conn, scope, high_water, why=f"line {line.name}", now=now)
                scope = self._scope(conn, key, lock=True)
            start = scope.next_position
            if start >= scope.limit_position:
                raise Exhausted(
                    f"{key}: all {scope.limit_position:,} positions of scheme {scope.scheme!r} "
                    "have been handed out"
                )
            stop = min(start + count, scope.limit_position)
            if self.journal is not None:
                self.journal.append(key.kind, key.name, stop, now=now)
            conn.execute(
                update(serial_scopes)
                .where(serial_scopes.c.id == scope.id)
                .values(next_position=stop)
            )
            pool_id = conn.execute(
                serial_pools.insert().returning(serial_pools.c.id),
                {
                    "scope_id": scope.id,
                    "username": user.username,
                    "site": line.site,
                    "line": line.line,
                    "request_token": request_token,
                    "start": start,
                    "stop": stop,
                    "issued_at": now,
                },
            ).scalar_one()
        with read_transaction(self.engine) as conn:
            values = codec.values(conn, start, stop)
        return Pool(
            int(pool_id),
            key,
            scope.scheme,
            line.site,
            line.line,
            start,
            stop,
            now,
            values,
            request_token,
            insufficient=stop - start < count,
        )

    def raise_floor(
        self, key: ScopeKey, next_position: int, *, actor: str, reason: str, now: datetime
    ) -> tuple[int, int] | None:
        """Treat every position below ``next_position`` as handed out (skipped), e.g. after a
        restore without the journal; (was, now), or None if nothing changed."""
        with write_transaction(self.engine) as conn:
            scope = self._scope(conn, key, lock=True)
            if not 0 <= next_position <= scope.limit_position:
                raise Refused(
                    f"next_position: expected 0..{scope.limit_position}, got {next_position}"
                )
            if next_position <= scope.next_position:
                return None
            if self.journal is not None:
                self.journal.append(key.kind, key.name, next_position, now=now)
            self._skip(conn, scope, next_position, why=f"raised by {actor}", now=now)
            audit.append(
                conn,
                actor=actor,
                action="serial_floor_raise",
                entity="serial_scope",
                entity_key=f"{key.kind}:{key.name}",
                old_value={"next_position": scope.next_position},
                new_value={"next_position": next_position},
                reason=reason,
                now=now,
            )
        return scope.next_position, next_position

    # -- reports -----------------------------------------------------------------------------

    def report(
        self, user: User, key: ScopeKey, statuses: dict[str, list[str]], *, now: datetime
    ) -> ReportResult:
        """Record what the caller's line did with positions it was issued: ``used``,
        ``destroyed`` or ``returned``. Idempotent; values not issued to the line are refused
        and a changed status other than used -> destroyed is a conflict (both alerted)."""
        unknown = sorted(set(statuses) - set(STATUSES))
        if unknown:
            raise Refused(f"report: unknown statuses {unknown}; expected {', '.join(STATUSES)}")
        total = sum(len(v) for v in statuses.values())
        if total > MAX_REPORT:
            raise Refused(f"report: expected at most {MAX_REPORT:,} values, got {total:,}")
        result = ReportResult()
        with write_transaction(self.engine) as conn:
            line = self._line(conn, user)
            scope = self._scope(conn, key)
            codec = self._codec(scope)
            wanted: dict[str, str] = {}
            for status in STATUSES:
                for value in statuses.get(status, []):
                    if wanted.setdefault(value, status) != status:
                        result.refused.append((value, f"reported as {wanted[value]} and {status}"))
            positions, problems = codec.positions(conn, list(wanted))
            result.refused += problems
            owner = self._owning_pools(conn, scope, user.username, positions.values())
            new_rows: list[tuple[Any, ...]] = []
            changes: list[tuple[str, int, int]] = []  # (status, position, pool)
            deltas: dict[int, dict[str, int]] = {}
            existing = self._states(conn, scope.id, list(positions.values()))
            for value, position in positions.items():
                pool_id = owner.get(position)
                if pool_id is None:
                    result.refused.append((value, f"{value!r} was not issued to line {line.name}"))
                    continue
                status = wanted[value]
                was = existing.get(position)
                if was == status:
                    result.unchanged += 1
                    continue
                if was is not None and (was, status) not in _ALLOWED_CHANGES:
                    result.conflicts.append((value, was, status))
                    continue
                if was is None:
                    new_rows.append((scope.id, position, status, pool_id, now))
                else:
                    changes.append((status, position, pool_id))
                    deltas.setdefault(pool_id, dict.fromkeys(STATUSES, 0))[was] -= 1
                deltas.setdefault(pool_id, dict.fromkeys(STATUSES, 0))[status] += 1
                result.recorded[status] += 1
            _insert_states(conn, new_rows)
            for status, position, pool_id in changes:
                conn.execute(
                    update(serial_states)
                    .where(
                        serial_states.c.scope_id == scope.id,
                        serial_states.c.position == position,
                    )
                    .values(status=status, pool_id=pool_id, reported_at=now)
                )
            for pool_id, delta in deltas.items():
                conn.execute(
                    update(serial_pools)
                    .where(serial_pools.c.id == pool_id)
                    .values(
                        used=serial_pools.c.used + delta["used"],
                        destroyed=serial_pools.c.destroyed + delta["destroyed"],
                        returned=serial_pools.c.returned + delta["returned"],
                    )
                )
            if result.refused or result.conflicts:
                _alert(
                    conn,
                    now,
                    "serial_report_refused",
                    f"{line.name} {key}",
                    f"{len(result.refused)} refused, {len(result.conflicts)} conflicts; first: "
                    + "; ".join(
                        [f"{v}: {r}" for v, r in result.refused[:5]]
                        + [f"{v}: {o} -> {n}" for v, o, n in result.conflicts[:5]]
                    ),
                )
        return result

    # -- books -------------------------------------------------------------------------------

    def scopes(self) -> list[ScopeSummary]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(serial_scopes).order_by(serial_scopes.c.id)).all()
            return [self._summary(conn, _scope(row)) for row in rows]

    def summary(self, key: ScopeKey) -> ScopeSummary:
        with read_transaction(self.engine) as conn:
            return self._summary(conn, self._scope(conn, key))

    def status_of(self, key: ScopeKey, value: str) -> dict[str, Any]:
        """Where one serial or SSCC stands: unissued, issued (to which line), or as reported."""
        with read_transaction(self.engine) as conn:
            scope = self._scope(conn, key)
            positions, problems = self._codec(scope).positions(conn, [value])
            if problems:
                return {"value": value, "status": "unknown", "reason": problems[0][1]}
            position = positions[value]
            pool = conn.execute(
                select(serial_pools)
                .where(
                    serial_pools.c.scope_id == scope.id,
                    serial_pools.c.start <= position,
                    serial_pools.c.stop > position,
                )
                .limit(1)
            ).first()
            if pool is None:
                return {"value": value, "status": "unissued", "position": position}
            state = conn.execute(
                select(serial_states.c.status, serial_states.c.reported_at).where(
                    serial_states.c.scope_id == scope.id, serial_states.c.position == position
                )
            ).first()
            skipped = pool.username == FLOOR_USER
            return {
                "value": value,
                "position": position,
                "status": state.status if state else ("skipped" if skipped else "issued"),
                "reported_at": state.reported_at.isoformat() if state else None,
                "pool": {
                    "id": pool.id,
                    "line": f"{pool.site}/{pool.line}",
                    "issued_at": pool.issued_at.isoformat(),
                },
            }

    # -- imported lists ----------------------------------------------------------------------

    def import_lists(
        self,
        lists: dict[ScopeKey, list[str]],
        *,
        format: str,
        supplier: str,
        reference: str,
        sha256: str,
        actor: str,
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Add imported serials or SSCCs to list scopes, all or nothing: every value is checked
        against the values already imported for its scope and against every serial or SSCC
        the trace server knows (:class:`Refused` lists the problems)."""
        problems: list[str] = []
        done: list[dict[str, Any]] = []
        with write_transaction(self.engine) as conn:
            plans: list[tuple[ScopeKey, Scope | None, list[str]]] = []
            for key, values in lists.items():
                scope = self._find_scope(conn, key, lock=True)
                if scope is not None and not scope.is_list:
                    problems.append(
                        f"{key}: its identifiers are generated by this authority "
                        f"({scope.scheme}); lists cannot be added to it"
                    )
                    continue
                problems += [
                    f"{key}: {v!r} was already imported"
                    for v in ([] if scope is None else self._listed(conn, scope.id, values))
                ]
                problems += [
                    f"{key}: {v!r} is already known to the trace server"
                    for v in _known(conn, key, values)
                ]
                plans.append((key, scope, values))
            if problems:
                raise Refused(
                    f"import refused: {_count(len(problems))}; first: "
                    + "; ".join(problems[:_SHOWN_PROBLEMS]),
                    problems=problems,
                )
            for key, existing, values in plans:
                scope = existing or self._create_scope(conn, key, "list", 0, 0, None, actor, now)
                first = scope.limit_position
                stop = first + len(values)
                import_id = conn.execute(
                    serial_imports.insert().returning(serial_imports.c.id),
                    {
                        "scope_id": scope.id,
                        "format": format,
                        "supplier": supplier,
                        "reference": reference,
                        "first_position": first,
                        "stop_position": stop,
                        "sha256": sha256,
                        "imported_at": now,
                        "imported_by": actor,
                    },
                ).scalar_one()
                bulk_insert(
                    conn,
                    serial_list_values,
                    ("scope_id", "position", "value", "import_id"),
                    [(scope.id, first + i, value, import_id) for i, value in enumerate(values)],
                )
                conn.execute(
                    update(serial_scopes)
                    .where(serial_scopes.c.id == scope.id)
                    .values(limit_position=stop)
                )
                record = {
                    "import_id": int(import_id),
                    "kind": key.kind,
                    "scope": key.name,
                    "count": len(values),
                    "first_position": first,
                    "stop_position": stop,
                }
                audit.append(
                    conn,
                    actor=actor,
                    action="serial_import",
                    entity="serial_scope",
                    entity_key=f"{key.kind}:{key.name}",
                    old_value={"limit_position": first},
                    new_value={**record, "format": format, "supplier": supplier,
                               "reference": reference, "sha256": sha256},
                    reason=f"list imported from {supplier} ({reference})",
                    now=now,
                )  # fmt: skip
                done.append(record)
        return done

    def import_usage(self, import_id: int) -> dict[str, Any]:
        """Every value of one import with what became of it: unissued, issued (line), used,
        destroyed, returned: the report back to the brand owner or L4 system."""
        with read_transaction(self.engine) as conn:
            record = conn.execute(
                select(serial_imports).where(serial_imports.c.id == import_id)
            ).first()
            if record is None:
                raise UnknownScope(f"import: no import with id {import_id}")
            scope = self._scope_by_id(conn, int(record.scope_id))
            pools = conn.execute(
                select(serial_pools.c.start, serial_pools.c.stop, serial_pools.c.site,
                       serial_pools.c.line)
                .where(serial_pools.c.scope_id == scope.id,
                       serial_pools.c.stop > record.first_position,
                       serial_pools.c.start < record.stop_position)
                .order_by(serial_pools.c.start)
            ).all()  # fmt: skip
            starts = [int(p.start) for p in pools]
            states = dict(
                conn.execute(
                    select(serial_states.c.position, serial_states.c.status).where(
                        serial_states.c.scope_id == scope.id,
                        serial_states.c.position >= record.first_position,
                        serial_states.c.position < record.stop_position,
                    )
                ).all()
            )
            rows = []
            for value in conn.execute(
                select(serial_list_values.c.position, serial_list_values.c.value)
                .where(serial_list_values.c.import_id == import_id)
                .order_by(serial_list_values.c.position)
            ):
                position = int(value.position)
                at = bisect.bisect_right(starts, position) - 1
                pool = pools[at] if at >= 0 and position < pools[at].stop else None
                status = states.get(position) or ("issued" if pool is not None else "unissued")
                if pool is not None and pool.line == FLOOR_LINE and position not in states:
                    status = "skipped"
                rows.append(
                    {
                        "value": value.value,
                        "status": status,
                        "line": None if pool is None else f"{pool.site}/{pool.line}",
                    }
                )
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return {
            "import_id": import_id,
            "kind": scope.key.kind,
            "scope": scope.key.name,
            "supplier": record.supplier,
            "reference": record.reference,
            "format": record.format,
            "imported_at": record.imported_at.isoformat(),
            "counts": counts,
            "values": rows,
        }

    # -- internals ---------------------------------------------------------------------------

    def _line(self, conn: Connection, user: User) -> LineIdentity:
        row = conn.execute(
            select(serial_lines).where(serial_lines.c.username == user.username)
        ).first()
        if row is None:
            raise NotALine(
                f"line: {user.username!r} is not registered as a line at the serial authority "
                "(serialtrace serials add-line)"
            )
        return LineIdentity(row.username, row.site, row.line)

    def _scope(self, conn: Connection, key: ScopeKey, *, lock: bool = False) -> Scope:
        scope = self._find_scope(conn, key, lock=lock)
        if scope is None:
            raise UnknownScope(f"{key}: not registered at the serial authority")
        return scope

    @staticmethod
    def _find_scope(conn: Connection, key: ScopeKey, *, lock: bool = False) -> Scope | None:
        query = select(serial_scopes).where(
            serial_scopes.c.kind == key.kind, serial_scopes.c.name == key.name
        )
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        return None if row is None else _scope(row)

    def _scope_by_id(self, conn: Connection, scope_id: int) -> Scope:
        row = conn.execute(select(serial_scopes).where(serial_scopes.c.id == scope_id)).one()
        return _scope(row)

    def _create_scope(
        self,
        conn: Connection,
        key: ScopeKey,
        scheme: str,
        first: int,
        limit: int,
        volume: int | None,
        actor: str,
        now: datetime,
    ) -> Scope:
        scope_id = conn.execute(
            serial_scopes.insert().returning(serial_scopes.c.id),
            {
                "kind": key.kind,
                "name": key.name,
                "scheme": scheme,
                "next_position": first,
                "limit_position": limit,
                "volume": volume,
                "created_at": now,
                "created_by": actor,
            },
        ).scalar_one()
        return Scope(int(scope_id), key, scheme, first, limit, volume, now)

    def _generator(self, key: ScopeKey, scheme: SerialScheme) -> SerialGenerator:
        if self.key is None:
            raise Unavailable(
                f"{key}: this authority holds no serial key (serials_key_file), so it cannot "
                "generate serials"
            )
        cached = self._generators.get((key.name, scheme.name))
        if cached is None:
            cached = SerialGenerator(self.key, gs1.Gtin.parse(key.name), scheme)
            self._generators[(key.name, scheme.name)] = cached
        return cached

    def _codec(self, scope: Scope) -> _Codec:
        if scope.is_list:
            return _ListCodec(scope.id, scope.key)
        if scope.scheme.startswith("sequential/"):
            return _SequentialSsccCodec(scope.key)
        _method, alphabet, length, key_id = scope.scheme.split("/")
        generator = self._generator(scope.key, SerialScheme(alphabet_named(alphabet), int(length)))
        if generator.scheme_id != scope.scheme:
            raise Unavailable(
                f"{scope.key}: pinned to key {key_id.removeprefix('key:')}; this authority "
                f"holds key {self.key.key_id if self.key else None} (a GTIN keeps its key for life)"
            )
        return _Ff31Codec(generator)

    def _journal_floor(self, key: ScopeKey) -> int:
        if self.journal is None:
            return 0
        return self.journal.high_water(key.kind, key.name)

    def _skip(self, conn: Connection, scope: Scope, stop: int, *, why: str, now: datetime) -> None:
        """Positions ``next_position .. stop-1`` were (or may have been) handed out before a
        restore: record them as a floor pool and move past them."""
        conn.execute(
            update(serial_scopes).where(serial_scopes.c.id == scope.id).values(next_position=stop)
        )
        conn.execute(
            serial_pools.insert(),
            {
                "scope_id": scope.id,
                "username": FLOOR_USER,
                "site": FLOOR_SITE,
                "line": FLOOR_LINE,
                "request_token": f"floor:{secrets.token_hex(16)}",
                "start": scope.next_position,
                "stop": stop,
                "issued_at": now,
            },
        )
        _alert(
            conn,
            now,
            "serial_floor_raised",
            str(scope.key),
            f"next position raised from {scope.next_position} to {stop} ({why}): the "
            "authority's database was behind what it had handed out (restored from a backup, "
            "or failed over to a replica that missed the last commits?), or a grant failed "
            "after writing its journal line (then the skipped positions are only wasted)",
        )

    def _known_serials_floor(
        self, conn: Connection, key: ScopeKey, generator: SerialGenerator
    ) -> int:
        """One more than the highest counter of a serial of this GTIN the trace server knows
        (serials another scheme could not have written are ignored); 0 if none."""
        floor = 0
        scheme = generator.scheme
        query = select(units.c.serial).where(
            units.c.gtin == key.name, func.length(units.c.serial) == scheme.length
        )
        for row in conn.execute(query):
            if row.serial in scheme.alphabet:
                floor = max(floor, generator.counter_of(row.serial) + 1)
        return floor

    def _owning_pools(
        self, conn: Connection, scope: Scope, username: str, positions: Iterable[int]
    ) -> dict[int, int]:
        """position -> id of the pool it was issued in to ``username`` (or to the floor)."""
        wanted = sorted(set(positions))
        if not wanted:
            return {}
        pools = conn.execute(
            select(serial_pools.c.id, serial_pools.c.start, serial_pools.c.stop)
            .where(
                serial_pools.c.scope_id == scope.id,
                serial_pools.c.username.in_([username, FLOOR_USER]),
                serial_pools.c.stop > wanted[0],
                serial_pools.c.start <= wanted[-1],
            )
            .order_by(serial_pools.c.start)
        ).all()
        starts = [int(p.start) for p in pools]
        owner: dict[int, int] = {}
        for position in wanted:
            at = bisect.bisect_right(starts, position) - 1
            if at >= 0 and position < pools[at].stop:
                owner[position] = int(pools[at].id)
        return owner

    @staticmethod
    def _states(conn: Connection, scope_id: int, positions: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for chunk in chunks(positions):
            rows = conn.execute(
                select(serial_states.c.position, serial_states.c.status).where(
                    serial_states.c.scope_id == scope_id, serial_states.c.position.in_(chunk)
                )
            )
            found.update({int(r.position): r.status for r in rows})
        return found

    @staticmethod
    def _listed(conn: Connection, scope_id: int, values: list[str]) -> list[str]:
        found: list[str] = []
        for chunk in chunks(values):
            found += conn.execute(
                select(serial_list_values.c.value).where(
                    serial_list_values.c.scope_id == scope_id,
                    serial_list_values.c.value.in_(chunk),
                )
            ).scalars()
        return found

    def _summary(self, conn: Connection, scope: Scope) -> ScopeSummary:
        issued = skipped = used = destroyed = returned = 0
        lines: dict[str, dict[str, int]] = {}
        rows = conn.execute(
            select(
                serial_pools.c.site,
                serial_pools.c.line,
                serial_pools.c.username,
                func.sum(serial_pools.c.stop - serial_pools.c.start).label("issued"),
                func.sum(serial_pools.c.used).label("used"),
                func.sum(serial_pools.c.destroyed).label("destroyed"),
                func.sum(serial_pools.c.returned).label("returned"),
                func.count().label("pools"),
            )
            .where(serial_pools.c.scope_id == scope.id)
            .group_by(serial_pools.c.site, serial_pools.c.line, serial_pools.c.username)
        )
        for row in rows:
            counts = {
                "pools": int(row.pools),
                "issued": int(row.issued or 0),
                "used": int(row.used or 0),
                "destroyed": int(row.destroyed or 0),
                "returned": int(row.returned or 0),
            }
            counts["outstanding"] = (
                counts["issued"] - counts["used"] - counts["destroyed"] - counts["returned"]
            )
            lines[f"{row.site}/{row.line}"] = counts
            if row.username == FLOOR_USER:
                skipped += counts["issued"]
            else:
                issued += counts["issued"]
            used += counts["used"]
            destroyed += counts["destroyed"]
            returned += counts["returned"]
        return ScopeSummary(scope, issued, skipped, used, destroyed, returned, lines)


def _scope(row: Any) -> Scope:
    return Scope(
        id=int(row.id),
        key=ScopeKey(row.kind, row.name),
        scheme=row.scheme,
        next_position=int(row.next_position),
        limit_position=int(row.limit_position),
        volume=None if row.volume is None else int(row.volume),
        created_at=row.created_at,
    )


def _pool(row: Any, scope: Scope, values: list[str]) -> Pool:
    return Pool(
        int(row.id),
        scope.key,
        scope.scheme,
        row.site,
        row.line,
        int(row.start),
        int(row.stop),
        row.issued_at,
        values,
        row.request_token,
    )


def _check_token(token: str) -> None:
    if not 1 <= len(token) <= 64 or not token.isascii() or not token.isprintable():
        raise Refused(
            f"request_token: expected 1 to 64 printable ASCII characters, got {token[:80]!r}"
        )


def _insert_states(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    columns = ("scope_id", "position", "status", "pool_id", "reported_at")
    for chunk in chunks(rows, IN_CHUNK * 10):
        conn.execute(
            serial_states.insert(), [dict(zip(columns, row, strict=True)) for row in chunk]
        )


def _known(conn: Connection, key: ScopeKey, values: list[str]) -> list[str]:
    """The values the trace store already holds as units (sgtin) or containers (sscc)."""
    found: list[str] = []
    for chunk in chunks(values):
        if key.kind == "sgtin":
            query = select(units.c.serial).where(
                units.c.gtin == key.name, units.c.serial.in_(chunk)
            )
        else:
            query = select(containers.c.sscc).where(containers.c.sscc.in_(chunk))
        found += [str(v) for v in conn.execute(query).scalars()]
    return found


def _alert(conn: Connection, now: datetime, kind: str, subject: str, detail: str) -> None:
    conn.execute(
        alerts.insert(),
        {"at": now, "kind": kind, "subject": subject[:512], "event_id": "", "detail": detail},
    )


def _count(problems: int) -> str:
    return "1 problem" if problems == 1 else f"{problems} problems"
