"""The ``store`` fixture copies one migration run (a SQLite file, the recorded PostgreSQL SQL):
what it gives each test must be what the migrations themselves make."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

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
