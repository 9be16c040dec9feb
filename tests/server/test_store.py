"""Store: migrations match the tables, the audit chain, identifiers, settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from server import audit
from server.config import load_settings
from server.errors import ConfigError
from server.identifiers import UnitKey, canonical, key_pattern, parse_sscc, parse_unit
from server.store import read_transaction, write_transaction
from server.store.migrate import current_revision, downgrade, head_revision, upgrade
from server.store.schema import metadata
from tests.server import factory as f


def test_migrations_create_exactly_the_tables(store: Engine) -> None:
    assert current_revision(store) == head_revision()
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_audit_chain_detects_tampering(store: Engine) -> None:
    now = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    with write_transaction(store) as conn:
        for n in range(3):
            audit.append(
                conn,
                actor="qa1",
                action="recall",
                entity="batch",
                entity_key=f"LOT{n}",
                old_value={"disposition": "active"},
                new_value={"disposition": "recalled"},
                reason="drill",
                now=now,
            )
    with read_transaction(store) as conn:
        assert audit.verify_chain(conn) is None
        entries = audit.entries(conn)
    assert [e.entity_key for e in entries] == ["LOT0", "LOT1", "LOT2"]
    assert entries[0].at == now
    # Tamper as the database owner would, bypassing the trigger.
    with write_transaction(store) as conn:
        if store.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_trail_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_trail DISABLE TRIGGER audit_trail_append_only"))
        conn.execute(text("UPDATE audit_trail SET reason = 'nothing happened' WHERE id = 2"))
    with read_transaction(store) as conn:
        assert audit.verify_chain(conn) == 2


def test_unit_keys_from_every_form() -> None:
    expected = UnitKey(f.GTIN, "AB/12")
    assert parse_unit(f.sgtin("AB%2F12")) == expected
    assert parse_unit(f"https://id.gs1.org/01/{f.GTIN}/21/AB%2F12") == expected
    assert parse_unit("urn:epc:id:sgtin:0614141.10734.1") is None  # 12 digits
    assert parse_sscc(f.sscc_uri(f.sscc(5))) == f.sscc(5)
    assert canonical("urn:epc:id:giai:0614141.1") == "urn:epc:id:giai:0614141.1"
    assert key_pattern("urn:epc:idpat:sgtin:0614141.107346.*") == f"(01){f.GTIN}(21)%"


@given(
    st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20)
)
def test_sgtin_round_trip(serial: str) -> None:
    unit = parse_unit(f.sgtin(serial))
    assert unit == UnitKey(f.GTIN, serial)
    assert canonical(f.sgtin(serial)) == f"(01){f.GTIN}(21){serial}"


@given(st.text(max_size=60))
def test_hostile_epcs_never_raise(text_: str) -> None:
    for prefix in ("urn:epc:id:sgtin:", "urn:epc:id:sscc:", "urn:epc:class:lgtin:", "https://"):
        canonical(prefix + text_)


def test_settings_from_file_env_and_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[server]\ndb_url = "sqlite:///a.db"\nport = 9000\nmqtt_url = "mqtt://x"\n')
    monkeypatch.setenv("SERIALTRACE_SERVER_PORT", "9100")
    settings = load_settings(config, mqtt_url="mqtt://127.0.0.1:1884")
    assert (settings.db_url, settings.port, settings.mqtt_url) == (
        "sqlite:///a.db",
        9100,
        "mqtt://127.0.0.1:1884",
    )
    monkeypatch.delenv("SERIALTRACE_SERVER_PORT")
    config.write_text("port = 'high'\n")
    with pytest.raises(ConfigError, match="port: Input should be a valid integer"):
        load_settings(config)
    config.write_text("colour = 'red'\n")
    with pytest.raises(ConfigError, match=r"colour: unknown setting \(typo\?\)"):
        load_settings(config)
    with pytest.raises(ConfigError, match="expected a sqlite:// or postgresql:// URL"):
        load_settings(None, db_url="mysql://x")


def migrate_store(store: Engine, step: str, revision: str) -> None:
    """``upgrade`` or ``downgrade`` ``store`` to ``revision``."""
    (upgrade if step == "upgrade" else downgrade)(store, revision)


def sorted_rows(store: Engine, sql: str) -> list[tuple[object, ...]]:
    with store.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(text(sql)))


def test_migration_0003_moves_unit_rows_to_unit_events_and_back(store: Engine) -> None:
    def migrate(step: str, revision: str) -> None:
        migrate_store(store, step, revision)

    def rows(sql: str) -> list[tuple[object, ...]]:
        return sorted_rows(store, sql)

    migrate("downgrade", "0002")
    with store.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO units (id, gtin, serial, status, commission_event)"
                " VALUES (7, :gtin, 'A1', 'active', 1), (8, :gtin, 'A2', 'active', 1)"
            ),
            {"gtin": f.GTIN},
        )
        conn.execute(
            text("INSERT INTO event_epcs (event_pk, epc, role) VALUES (:pk, :epc, :role)"),
            [
                {"pk": 1, "epc": f"(01){f.GTIN}(21)A1", "role": "epc"},
                {"pk": 2, "epc": f"(01){f.GTIN}(21)A1", "role": "child"},
                {"pk": 1, "epc": f"(01){f.GTIN}(21)A2", "role": "epc"},
                {"pk": 3, "epc": f"(01){f.GTIN}(21)NEVER", "role": "epc"},  # no such unit
                {"pk": 2, "epc": f"(00){f.sscc(1)}", "role": "parent"},
                {"pk": 4, "epc": f"(01){f.GTIN}(10)LOT1", "role": "class"},
            ],
        )
    before = rows("SELECT event_pk, epc, role FROM event_epcs")
    migrate("upgrade", "head")
    assert rows("SELECT unit_id, event_pk, role FROM unit_events") == [
        (7, 1, "epc"),
        (7, 2, "child"),
        (8, 1, "epc"),
    ]
    assert rows("SELECT event_pk, epc FROM event_epcs") == [
        (2, f"(00){f.sscc(1)}"),
        (3, f"(01){f.GTIN}(21)NEVER"),
        (4, f"(01){f.GTIN}(10)LOT1"),
    ]
    migrate("downgrade", "0002")
    assert rows("SELECT event_pk, epc, role FROM event_epcs") == before
    migrate("upgrade", "head")


def test_migration_0004_moves_event_bodies_out_and_back(store: Engine) -> None:
    migrate_store(store, "downgrade", "0003")
    row = {
        "event_id": "urn:uuid:1",
        "event_type": "ObjectEvent",
        "event_time": datetime(2025, 3, 1, 8, 0),
        "record_time": datetime(2025, 3, 1, 8, 0),
        "source": "http",
        "body": '{"type":"ObjectEvent"}',
    }
    with store.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (pk, event_id, event_type, event_time, record_time, source,"
                " body) VALUES (5, :event_id, :event_type, :event_time, :record_time, :source,"
                " :body)"
            ),
            row,
        )
    migrate_store(store, "upgrade", "head")
    assert sorted_rows(store, "SELECT event_pk, body FROM event_bodies") == [(5, row["body"])]
    migrate_store(store, "downgrade", "0003")
    assert sorted_rows(store, "SELECT pk, body FROM events") == [(5, row["body"])]
    migrate_store(store, "upgrade", "head")
