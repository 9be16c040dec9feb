"""The few statements that differ between SQLite and PostgreSQL.

psycopg and SQLAlchemy's PostgreSQL dialect are imported where a PostgreSQL path needs them
(a store on PostgreSQL has them loaded by its engine anyway): a server on SQLite starts
without them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError, IntegrityError

T = TypeVar("T")

# SQLite binds at most 32766 variables per statement; stay well below for IN lists.
IN_CHUNK = 900


def insert_ignore(conn: Connection, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for ``table`` in ``conn``'s dialect."""
    return upsert(conn, table).on_conflict_do_nothing()


def upsert(conn: Connection, table: Table) -> Any:
    """An ``INSERT`` whose ``on_conflict_do_update`` is available in ``conn``'s dialect."""
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    from sqlalchemy.dialects import postgresql

    return postgresql.insert(table)


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order); the number of rows inserted. SQLite:
    one ``executemany``; PostgreSQL: one ``COPY`` (skipping conflicts: in a savepoint, and
    if a unique key refuses a row, one insert that skips the stored rows instead). The hot
    path of ingest: it skips SQLAlchemy's per-row parameter processing, so values must
    already be of the driver's types."""
    if not rows:
        return 0
    names = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        # ON CONFLICT DO NOTHING skips rows a unique key refuses and nothing else (INSERT OR
        # IGNORE would also skip a row with NULL in a NOT NULL column, silently).
        skip = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks}){skip}"
    elif not ignore_conflicts:
        return _copy(conn, table, names, rows)
    elif copy_unless_conflict(conn, table, columns, rows):
        return len(rows)
    else:
        # One statement with one array per column: psycopg's executemany would send one
        # INSERT per row.
        arrays = ", ".join(
            f"%s::{table.c[name].type.compile(dialect=conn.dialect)}[]" for name in columns
        )
        sql = (
            f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays})"
            " ON CONFLICT DO NOTHING"
        )
        result = conn.exec_driver_sql(
            sql, tuple(list(column) for column in zip(*rows, strict=True))
        )
        return int(result.rowcount)
    result = conn.exec_driver_sql(sql, list(rows))
    return int(result.rowcount)


def bulk_update(
    conn: Connection, table: Table, key: str, column: str, pairs: Sequence[tuple[Any, Any]]
) -> None:
    """Set ``column`` to ``value`` in the row whose ``key`` is ``row_key``, for each
    ``(row_key, value)`` of ``pairs``, in one statement (SQLite: one executemany)."""
    if not pairs:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {column} = ? WHERE {key} = ?",
            [(value, row_key) for row_key, value in pairs],
        )
        return
    key_type = table.c[key].type.compile(dialect=conn.dialect)
    value_type = table.c[column].type.compile(dialect=conn.dialect)
    keys, values = zip(*pairs, strict=True)
    conn.exec_driver_sql(
        f"UPDATE {table.name} SET {column} = v.value"
        f" FROM unnest(%s::{key_type}[], %s::{value_type}[]) AS v(row_key, value)"
        f" WHERE {table.name}.{key} = v.row_key",
        (list(keys), list(values)),
    )


def copy_unless_conflict(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """PostgreSQL: ``COPY`` ``rows`` in a savepoint; True if they all went in, False (and
    none did) if a unique key refused one of them.

    The way to insert rows that are almost always new (a unit's first commissioning, an
    event's first delivery): COPY costs the driver a C-level format per row, where
    ``INSERT … SELECT unnest(%s) … ON CONFLICT DO NOTHING`` costs it a Python-level dump of
    every array element (about a quarter of the ingest writer's time). The caller falls back
    to the latter when this returns False (a redelivered or repeated document).
    """
    try:
        with conn.begin_nested():
            _copy(conn, table, ", ".join(columns), rows)
    except IntegrityError as exc:
        from psycopg.errors import UniqueViolation

        if isinstance(exc.orig, UniqueViolation):
            return False
        raise
    return True


def new_ids(conn: Connection, table: Table, column: str, count: int) -> Sequence[int]:
    """``count`` new ids for ``table.column``, taken before the rows are inserted (so that
    rows naming them can be built without reading the inserted rows back).

    SQLite: the ids after the largest stored one (one writer at a time: BEGIN IMMEDIATE, and
    a deferred writer whose snapshot is stale is refused, so nobody else takes ids until
    this transaction commits). PostgreSQL: ``count`` values of the column's sequence in one
    round trip; they come back as a (min, max) pair when they are consecutive (the usual
    case), as a list only when another session took values in between.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "sqlite":
        last = conn.exec_driver_sql(f"SELECT coalesce(max({column}), 0) FROM {table.name}")
        first = int(last.scalar() or 0) + 1
        return range(first, first + count)
    # The sequence as a constant: resolved per row (pg_get_serial_sequence in the query), it
    # cost 2.5 µs a value, 5 ms for a group of 2,000 units, 8 % of the ingest writer's time.
    sequence = _serial_sequence(conn, table, column).replace("'", "''")
    low, high, values = conn.exec_driver_sql(
        "SELECT min(v), max(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL"
        " ELSE array_agg(v) END"
        f" FROM (SELECT nextval('{sequence}'::regclass) AS v"
        " FROM generate_series(1, %(count)s)) AS taken",
        {"count": count},
    ).one()
    if values is None:
        return range(int(low), int(high) + 1)
    return [int(value) for value in values]


def _serial_sequence(conn: Connection, table: Table, column: str) -> str:
    """PostgreSQL: the (schema-qualified) name of ``table.column``'s sequence, looked up once
    per database connection."""
    info = conn.connection.info  # kept with the DBAPI connection, across pool checkouts
    key = ("serial_sequence", table.name, column)
    name = info.get(key)
    if name is None:
        name = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%(table)s, %(column)s)",
            {"table": table.name, "column": column},
        ).scalar()
        if name is None:
            raise ValueError(f"{table.name}.{column} has no sequence")
        info[key] = name
    return str(name)


def _copy(conn: Connection, table: Table, names: str, rows: Sequence[Sequence[Any]]) -> int:
    """PostgreSQL ``COPY … FROM STDIN`` (psycopg 3) in ``conn``'s transaction: several times
    faster than a multi-row INSERT for the index rows of ingest (no conflicts possible)."""
    import psycopg

    statement = f"COPY {table.name} ({names}) FROM STDIN"
    dbapi = conn.connection.dbapi_connection
    try:
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        # As SQLAlchemy raises for its own statements (IntegrityError, DataError, ...), so
        # that callers tell a refused value from a store that is down.
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    return len(rows)
