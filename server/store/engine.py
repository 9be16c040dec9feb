"""Engine factory: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

Writes go through :func:`write_transaction`. On SQLite it opens the transaction with
``BEGIN IMMEDIATE`` so that two writers (the MQTT consumer and an HTTP request) queue on
the busy timeout instead of failing when a deferred reader turns into a writer; reads keep
plain deferred transactions and never block the writer under WAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server.errors import ConfigError

_WRITE = "serialtrace_write"

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # Every commit fsyncs the WAL: what was acknowledged survives a power loss too. Ingest
    # groups several MQTT messages per transaction, so the fsync cost is shared.
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
    # 256 MiB page cache: ingest inserts random serials into the unit and EPC indexes, which
    # stay in cache up to a few million units instead of being read back page by page.
    "PRAGMA cache_size=-262144",
    "PRAGMA temp_store=MEMORY",
)


def normalize_url(url: str) -> str:
    """Check a database URL and pick the psycopg 3 driver for PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"db_url: expected an SQLAlchemy database URL, got {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return url
    raise ConfigError(f"db_url: expected a sqlite:// or postgresql:// URL, got {url!r}")


def create_store_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """An engine for ``url``; ``schema`` sets PostgreSQL's search_path (tests isolate by it)."""
    url = normalize_url(url)
    connect_args: dict[str, Any] = {}
    if url.startswith("sqlite"):
        connect_args["check_same_thread"] = False
        engine = create_engine(url, connect_args=connect_args, echo=echo)
        _configure_sqlite(engine)
        return engine
    if schema is not None:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, connect_args=connect_args, echo=echo, pool_pre_ping=True, pool_size=8)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed on success, rolled back on error."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction (one consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn
