"""The agent's one SQLite database: batches, units, containers, outbox and agent state.

WAL journal with ``synchronous=FULL``: a commit is on disk (fsync) when ``COMMIT`` returns,
so whatever the agent did after a commit (send a label, acknowledge a command) survives a
``kill -9`` or a power cut. One writer thread owns the write connection
(:mod:`edge.writer`); readers (API, publisher) open their own connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.errors import EdgeError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id          INTEGER PRIMARY KEY,
    gtin        TEXT NOT NULL,
    lot         TEXT NOT NULL,
    expiry      TEXT NOT NULL,
    planned     INTEGER NOT NULL,
    materials   TEXT NOT NULL,
    state       TEXT NOT NULL,
    printed     INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    closed_at   TEXT,
    UNIQUE (gtin, lot)
);
CREATE TABLE IF NOT EXISTS containers (
    id          INTEGER PRIMARY KEY,
    batch_id    INTEGER NOT NULL REFERENCES batches (id),
    level       TEXT NOT NULL CHECK (level IN ('case', 'pallet')),
    sscc        TEXT UNIQUE,
    state       TEXT NOT NULL,
    parent_id   INTEGER REFERENCES containers (id),
    children    INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    created_at  TEXT NOT NULL,
    closed_at   TEXT
);
CREATE INDEX IF NOT EXISTS containers_batch_state ON containers (batch_id, level, state);
CREATE INDEX IF NOT EXISTS containers_parent ON containers (parent_id);
CREATE TABLE IF NOT EXISTS units (
    id          INTEGER PRIMARY KEY,
    batch_id    INTEGER NOT NULL REFERENCES batches (id),
    gtin        TEXT NOT NULL,
    serial      TEXT NOT NULL,
    state       TEXT NOT NULL,
    trigger     TEXT,
    reason      TEXT,
    image       TEXT,
    case_id     INTEGER REFERENCES containers (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (gtin, serial)
);
CREATE INDEX IF NOT EXISTS units_batch_state ON units (batch_id, state);
CREATE INDEX IF NOT EXISTS units_case ON units (case_id);
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('event', 'message')),
    payload     BLOB NOT NULL,
    created     REAL NOT NULL,
    line_seq    INTEGER
);
"""


class StoreError(EdgeError):
    """The database cannot be opened or has a schema this version does not know."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the agent's pragmas; the schema is created if missing (writers only).

    ``isolation_level=None``: transactions are explicit (:func:`transaction`), so a group of
    changes is exactly one ``BEGIN IMMEDIATE … COMMIT``.
    """
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    if readonly:
        return conn
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(_SCHEMA)  # idempotent: every statement is IF NOT EXISTS
    _add_columns(conn)
    conn.execute("CREATE INDEX IF NOT EXISTS outbox_line_seq ON outbox (line_seq)")
    with transaction(conn):
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row["value"]) != SCHEMA_VERSION:
            raise StoreError(
                f"database {path}: schema_version expected {SCHEMA_VERSION}, got {row['value']}"
            )
    return conn


_ADDED_COLUMNS = (
    ("units", "grade", "TEXT"),
    ("outbox", "line_seq", "INTEGER"),
    ("batches", "close_seq", "INTEGER"),
)
"""Columns added after schema version 1 (nullable, so old rows stay valid): a database made
by an older agent gets them when it is opened. ``units.grade``: the unit's print-quality
grade as JSON (the commissioning event's ``serialtrace:grade``). ``outbox.line_seq``: the
event's line sequence number (:mod:`edge.outbox`; NULL for a message and for rows written by
an agent older than server-confirmed delivery). ``batches.close_seq``: the line sequence number
of the batch's close event: the batch is closed on the server once the server confirmed every
event up to it."""


def _add_columns(conn: sqlite3.Connection) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back if the body raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
