"""Fixtures of the trace server tests: a migrated store on SQLite AND PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError

from server.api.app import create_app
from server.auth import Role, User, hash_password, issue_token
from server.config import ServerSettings
from server.ingest.prepare import set_event_time_window
from server.ingest.service import Ingestor
from server.lines import register_line as register_line_in
from server.store import create_store_engine, upgrade, write_transaction
from server.store.schema import line_locations, lines, users
from tests.server.factory import READ_POINT

PASSWORD = "correct horse battery"
#: The printed names of the ``tokens`` fixture's users (signatures carry these).
FULL_NAMES = {"qa": "Quinn QA", "operator": "Olga Operator", "admin": "Ada Admin"}
#: The test documents carry fixed 2025 event times: accept any time in a century around now
#: (the window's own tests set theirs).
WIDE_WINDOW_DAYS = 36500.0
#: The registered line the fixtures' device accounts are bound to (HTTP capture is checked
#: against it): every location the generic capture tests' events name, GS1's examples' too.
DEVICE_SITE, DEVICE_LINE = "site9", "http1"
TEST_LOCATIONS = (
    READ_POINT,
    *(f"urn:epc:id:sgln:0614141.07346.{n}" for n in range(4)),
    "urn:epc:id:sgln:0614141.00009.4",
    "urn:epc:id:sgln:0614141.00001.0",
    "urn:epc:id:sgln:0614141.00001.1",
    "urn:epc:id:sgln:0614141.00001.9",
    "urn:epc:id:sgln:4012345.00001.0",
    "urn:epc:id:sgln:4012345.00002.0",
    "urn:epc:id:sgln:4098765.00010.0",
    "urn:epc:id:sgln:4098765.00020.0",
)


def _example_locations() -> set[str]:
    folder = Path(
        os.environ.get(
            "SERIALTRACE_REFDATA", Path(__file__).resolve().parents[2].parent / "shared" / "refdata"
        )
    )
    found: set[str] = set()
    for path in sorted((folder / "epcis" / "examples").glob("*.jsonld")):
        document = json.loads(path.read_text(encoding="utf-8"))
        body = document.get("epcisBody") if isinstance(document, dict) else None
        for event in (body or {}).get("eventList") or []:
            for key in ("readPoint", "bizLocation"):
                value = (event.get(key) or {}).get("id") if isinstance(event, dict) else None
                if isinstance(value, str):
                    found.add(value)
    return found


def bind_device(conn: Connection, user_id: int) -> User:
    """Register the fixtures' device line (rows written as they are: GS1's examples name a
    ``geo:`` read point the admin interface would refuse) and bind ``user_id`` to it."""
    key = (lines.c.site == DEVICE_SITE) & (lines.c.line == DEVICE_LINE)
    if conn.execute(select(lines.c.site).where(key)).first() is None:
        now = datetime.now(UTC)
        conn.execute(lines.insert(), {"site": DEVICE_SITE, "line": DEVICE_LINE, "created_at": now})
        conn.execute(
            line_locations.insert(),
            [
                {"site": DEVICE_SITE, "line": DEVICE_LINE, "location": location}
                for location in sorted({*TEST_LOCATIONS, *_example_locations()})
            ],
        )
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(line_site=DEVICE_SITE, line_name=DEVICE_LINE)
    )
    row = conn.execute(
        select(users.c.username, users.c.full_name).where(users.c.id == user_id)
    ).one()
    return User(user_id, row.username, Role.DEVICE, row.full_name, DEVICE_SITE, DEVICE_LINE)


@pytest.fixture(autouse=True)
def _wide_event_time_window() -> Iterator[None]:
    set_event_time_window(WIDE_WINDOW_DAYS, WIDE_WINDOW_DAYS)
    yield
    set_event_time_window(WIDE_WINDOW_DAYS, WIDE_WINDOW_DAYS)


#: Per test process: a SQLite store migrated once (copied for each test).
_SQLITE_TEMPLATE: dict[str, Path] = {}


def _sqlite_template(request: pytest.FixtureRequest) -> Path:
    if "path" not in _SQLITE_TEMPLATE:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        path = factory.mktemp("store-template") / "trace.db"
        engine = create_store_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
        _SQLITE_TEMPLATE["path"] = path
    return _SQLITE_TEMPLATE["path"]


#: What makes a schema's shape: its tables, columns, constraints, triggers and functions, and
#: its revision (one row per item, hashed).
_SHAPE = """
SELECT md5(string_agg(item, ',' ORDER BY item)) FROM (
  SELECT c.relname || '/' || c.relkind::text || '/' || coalesce(a.attname, '') || '/'
         || coalesce(format_type(a.atttypid, a.atttypmod), '') || '/'
         || coalesce(a.attnotnull::text, '') || '/' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE n.nspname = :schema
  UNION ALL SELECT 'constraint/' || conname || '/' || pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :schema
  UNION ALL SELECT 'index/' || indexdef FROM pg_indexes WHERE schemaname = :schema
  UNION ALL SELECT 'trigger/' || t.tgname || '/' || t.tgenabled::text || '/'
         || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema
  UNION ALL SELECT 'function/' || p.proname || '/' || md5(p.prosrc)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema
) shape (item)
"""


class _PgSchemas:
    """Per test process and database: migrated schemas, handed out one per store.

    The first is made by the real migrations, which record what they run (on an empty schema
    they take no decision on data, and name no schema: the engine's search_path does); every
    other is made by that SQL, in one go (what running them again would make, in a fraction
    of the time). A schema a test gave back with the shape it was given is emptied (every
    table's rows deleted, without firing the audit trail's guards, and its sequences restarted)
    and handed out again: hundreds of tests, no catalog churn (that database runs without
    autovacuum). One whose shape a test changed is dropped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.script: str | None = None
        self.free: list[str] = []
        self.shapes: dict[str, str] = {}
        self.empty_sql: dict[str, str] = {}

    def take(self) -> str:
        while self.free:
            schema = self.free.pop()
            if self._emptied(schema):
                return schema
            self.drop(schema)
        return self._create()

    def give_back(self, schema: str) -> None:
        try:
            same = self._shape(schema) == self.shapes[schema]
        except DBAPIError:
            same = False
        if same:
            self.free.append(schema)
        else:
            self.drop(schema)

    def drop(self, schema: str) -> None:
        self.shapes.pop(schema, None)
        with self.admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '30s'"))
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))

    def close(self) -> None:
        for schema in self.free:
            with contextlib.suppress(DBAPIError):
                self.drop(schema)
        self.free.clear()
        self.admin.dispose()

    def _create(self) -> str:
        schema = f"t_{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_store_engine(self.url, schema=schema)
        try:
            if self.script is None:
                recorded: list[str] = []

                def record(
                    _c: object, _cur: object, statement: str, params: object, *_: object
                ) -> None:
                    if not statement.lstrip().upper().startswith("SELECT"):
                        assert not params and schema not in statement, statement
                        recorded.append(statement.strip())

                sa_event.listen(engine, "before_cursor_execute", record)
                upgrade(engine)
                self.script = ";\n".join(recorded)
            else:
                with engine.begin() as conn:
                    conn.exec_driver_sql(self.script)
        finally:
            engine.dispose()
        with self.admin.connect() as conn:
            named = {"schema": schema}
            tables = (
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), named
                )
                .scalars()
                .all()
            )
            sequences = (
                conn.execute(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = :schema"), named
                )
                .scalars()
                .all()
            )
        statements = [
            *(f"DELETE FROM {schema}.{table}" for table in tables if table != "alembic_version"),
            *(f"SELECT setval('{schema}.{sequence}', 1, false)" for sequence in sequences),
        ]
        self.empty_sql[schema] = ";\n".join(statements)
        self.shapes[schema] = self._shape(schema)
        return schema

    def _emptied(self, schema: str) -> bool:
        """Delete every row but the revision's, as if new (False: it cannot be done, e.g. the
        test database's user may not bypass triggers)."""
        try:
            with self.admin.connect() as conn:  # (autocommit: the transaction is spelled out)
                conn.exec_driver_sql(
                    "BEGIN; SET LOCAL lock_timeout = '30s'; "
                    f"SET LOCAL session_replication_role = replica; {self.empty_sql[schema]}; "
                    "COMMIT"
                )
        except DBAPIError:
            return False
        return True

    def _shape(self, schema: str) -> str:
        with self.admin.connect() as conn:
            shape = conn.execute(text(_SHAPE), {"schema": schema}).scalar_one()
            version = conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version"))
            return f"{shape}/{','.join(version.scalars())}"


_PG_SCHEMAS: dict[str, _PgSchemas] = {}


def _pg_schemas(request: pytest.FixtureRequest) -> _PgSchemas:
    url: str = request.getfixturevalue("pg_url")
    if url not in _PG_SCHEMAS:
        schemas = _PG_SCHEMAS[url] = _PgSchemas(url)
        request.config.add_cleanup(schemas.close)
    return _PG_SCHEMAS[url]


@contextmanager
def migrated_store(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty store: a SQLite file in ``folder``, or a PostgreSQL schema of its own.

    Migrated by the real migrations once per test process; each store is a copy of that
    result (SQLite: the file, 0.1 s of migrations saved per store; PostgreSQL: see
    :class:`_PgSchemas`, 0.4-0.8 s saved), hundreds of times a run."""
    if kind == "sqlite":
        path = folder / f"trace-{secrets.token_hex(3)}.db"
        shutil.copyfile(_sqlite_template(request), path)
        engine = create_store_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    schemas = _pg_schemas(request)
    schema = schemas.take()
    engine = create_store_engine(schemas.url, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        schemas.give_back(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store: a SQLite file, or a PostgreSQL schema of this test's own."""
    with migrated_store(request.param, tmp_path, request) as engine:
        yield engine


@pytest.fixture
def other_store(store: Engine, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A second empty store on the same engine as ``store`` (to compare two ingest paths)."""
    with migrated_store(store.dialect.name, tmp_path, request) as engine:
        yield engine


def register_line(engine: Engine, site: str, line: str, *locations: str) -> None:
    """Register a line in the line registry (its events are refused otherwise)."""
    with write_transaction(engine) as conn:
        register_line_in(
            conn,
            site,
            line,
            list(locations or [READ_POINT]),
            actor="test",
            reason="test set-up",
            now=datetime.now(UTC),
        )


@pytest.fixture
def ingestor(store: Engine) -> Ingestor:
    """An ingestor; lines site1/line1 and site1/line2 are registered with the factory's
    read point."""
    register_line(store, "site1", "line1")
    register_line(store, "site1", "line2")
    return Ingestor(store, max_payload_bytes=256 * 1024)


def settings_for(store: Engine, **overrides: object) -> ServerSettings:
    values: dict[str, object] = {
        "db_url": store.url.render_as_string(hide_password=False),
        "migrate_on_start": False,
        "max_payload_bytes": 256 * 1024,
        "event_time_max_age_days": WIDE_WINDOW_DAYS,
        "event_time_max_ahead_days": WIDE_WINDOW_DAYS,
    }
    values.update(overrides)
    return ServerSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(store: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(store), engine=store)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per session


@pytest.fixture
def tokens(store: Engine, client: TestClient, password_hash: str) -> dict[str, dict[str, str]]:
    """Authorization headers per role (one user each, named e.g. ``qa1``)."""
    headers: dict[str, dict[str, str]] = {}
    now = datetime.now(UTC)
    with write_transaction(store) as conn:
        for role in Role:
            user_id = conn.execute(
                users.insert().returning(users.c.id),
                {
                    "username": f"{role.value}1",
                    "password_hash": password_hash,
                    "role": role.value,
                    "active": 1,
                    "created_at": now,
                    "full_name": FULL_NAMES.get(role.value),
                },
            ).scalar_one()
            user = User(user_id, f"{role.value}1", role, FULL_NAMES.get(role.value))
            if role is Role.DEVICE:
                user = bind_device(conn, user_id)  # a device captures for its line only
            token = issue_token(conn, user, now=now, ttl=timedelta(hours=1))
            headers[role.value] = {"Authorization": f"Bearer {token}"}
    return headers
