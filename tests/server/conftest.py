"""Fixtures of the trace server tests: a migrated store on SQLite AND PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, select, text, update

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


@contextmanager
def migrated_store(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty store: a SQLite file in ``folder``, or a PostgreSQL schema of its own."""
    if kind == "sqlite":
        engine = create_store_engine(f"sqlite:///{folder / f'trace-{secrets.token_hex(3)}.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    pg_url: str = request.getfixturevalue("pg_url")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_store_engine(pg_url, schema=schema)
    try:
        upgrade(engine)
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
