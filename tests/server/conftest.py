"""Fixtures of the trace server tests: a migrated store on SQLite AND PostgreSQL."""

from __future__ import annotations

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


#: Per test process: a SQLite store migrated once (copied for each test), and the SQL that the
#: migrations ran on an empty PostgreSQL schema (run again, in one go, for each test).
_SQLITE_TEMPLATE: dict[str, Path] = {}
_PG_MIGRATION_SQL: dict[str, str] = {}


def _sqlite_template(request: pytest.FixtureRequest) -> Path:
    if "path" not in _SQLITE_TEMPLATE:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        path = factory.mktemp("store-template") / "trace.db"
        engine = create_store_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
        _SQLITE_TEMPLATE["path"] = path
    return _SQLITE_TEMPLATE["path"]


def _pg_migration_sql(pg_url: str, admin: Engine) -> str:
    """Every statement but the reads that the migrations ran on an empty schema, recorded
    once: on an empty schema they take no decision on data, and name no schema (the engine's
    search_path does), which is checked here."""
    if pg_url not in _PG_MIGRATION_SQL:
        schema = f"t_{secrets.token_hex(6)}"
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_store_engine(pg_url, schema=schema)
        recorded: list[str] = []

        def record(_c: object, _cur: object, statement: str, params: object, *_: object) -> None:
            if not statement.lstrip().upper().startswith("SELECT"):
                assert not params and schema not in statement, statement
                recorded.append(statement.strip())

        sa_event.listen(engine, "before_cursor_execute", record)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        _PG_MIGRATION_SQL[pg_url] = ";\n".join(recorded)
    return _PG_MIGRATION_SQL[pg_url]


@contextmanager
def migrated_store(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty store: a SQLite file in ``folder``, or a PostgreSQL schema of its own.

    Migrated by the real migrations once per test process; each store is a copy of that
    result (the file; the recorded SQL), which is what running them again would make, in a
    fraction of the time (0.4 s a PostgreSQL schema, 0.1 s a SQLite file, hundreds of times)."""
    if kind == "sqlite":
        path = folder / f"trace-{secrets.token_hex(3)}.db"
        shutil.copyfile(_sqlite_template(request), path)
        engine = create_store_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    pg_url: str = request.getfixturevalue("pg_url")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    script = _pg_migration_sql(pg_url, admin)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_store_engine(pg_url, schema=schema)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(script)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
