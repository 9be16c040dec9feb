"""The ``store`` fixture copies one migration run (a SQLite file, the recorded PostgreSQL SQL),
and hands PostgreSQL schemas out again emptied: what it gives each test must be what the
migrations themselves make, with no row of an earlier test."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from server.store import create_store_engine, upgrade

CATALOG_PG = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = :s",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) "
    "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :s",
    "triggers": "SELECT event_object_table, trigger_name, event_manipulation, action_statement "
    "FROM information_schema.triggers WHERE trigger_schema = :s",
    "functions": "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s",
    "sequences": "SELECT sequence_name FROM information_schema.sequences "
    "WHERE sequence_schema = :s",
    "rows": "SELECT version_num FROM alembic_version",
}


def _catalog(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        return {
            name: sorted(
                tuple(str(value).replace(f"{schema}.", "SCHEMA.") for value in row)
                for row in conn.execute(text(query), {"s": schema})
            )
            for name, query in CATALOG_PG.items()
        }


@pytest.mark.postgres
def test_a_postgresql_store_is_what_the_migrations_make(store_pg: Engine, pg_url: str) -> None:
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    migrated = create_store_engine(pg_url, schema=schema)
    try:
        upgrade(migrated)
        expected = _catalog(migrated)
        assert all(expected.values())
        assert _catalog(store_pg) == expected
    finally:
        migrated.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_a_sqlite_store_is_what_the_migrations_make(store_sqlite: Engine, tmp_path: Path) -> None:
    migrated = create_store_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    try:
        upgrade(migrated)
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        with migrated.connect() as conn, store_sqlite.connect() as copy:
            expected = conn.execute(text(query)).all()
            assert len(expected) > 50
            assert copy.execute(text(query)).all() == expected
            version = "SELECT version_num FROM alembic_version"
            assert copy.execute(text(version)).all() == conn.execute(text(version)).all()
            assert copy.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        migrated.dispose()


@pytest.fixture
def store_pg(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.server.conftest import migrated_store

    with migrated_store("postgresql", tmp_path, request) as engine:
        yield engine


@pytest.fixture
def store_sqlite(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.server.conftest import migrated_store

    with migrated_store("sqlite", tmp_path, request) as engine:
        yield engine


def _schema(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


@pytest.mark.postgres
def test_a_schema_handed_out_again_has_no_row_of_the_test_before(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from tests.server.conftest import migrated_store

    insert = (
        "INSERT INTO alerts (at, kind, subject, event_id, detail) "
        "VALUES (now(), 'gap', 's', 'e', 'd') RETURNING id"
    )
    with migrated_store("postgresql", tmp_path, request) as first:
        with first.begin() as conn:
            conn.execute(text("INSERT INTO audit_trail (at, actor, action, entity, entity_key, "
                              "reason, prev_hash, hash) VALUES (now(), 'a', 'b', 'c', 'd', 'e', "
                              "'0', '1')"))  # fmt: skip
            ids = [conn.execute(text(insert)).scalar_one() for _ in range(3)]
        assert ids == [1, 2, 3]
        used = _schema(first)
    with migrated_store("postgresql", tmp_path, request) as second:
        assert _schema(second) == used  # handed out again
        with second.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_trail")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM alerts")).scalar_one() == 0
            assert conn.execute(text(insert)).scalar_one() == 1  # its sequences restarted
            # and the audit trail's guard is on again
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text("DELETE FROM audit_trail"))


@pytest.mark.postgres
def test_a_schema_a_test_changed_is_dropped_not_handed_out_again(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str
) -> None:
    from tests.server.conftest import migrated_store

    with migrated_store("postgresql", tmp_path, request) as first:
        with first.begin() as conn:
            conn.execute(text("ALTER TABLE alerts ADD COLUMN extra integer"))
        changed = _schema(first)
    with migrated_store("postgresql", tmp_path, request) as second:
        assert _schema(second) != changed
    admin = create_engine(pg_url)
    try:
        with admin.connect() as conn:
            gone = "SELECT count(*) FROM pg_namespace WHERE nspname = :s"
            assert conn.execute(text(gone), {"s": changed}).scalar_one() == 0
    finally:
        admin.dispose()
