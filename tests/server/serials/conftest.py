"""Fixtures of the serial authority tests: an authority with a key and a journal, on SQLite
and on PostgreSQL (the ``store`` fixture of tests/server), and line identities."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gs1.serials import NUMERIC, SerialKey, SerialScheme
from server.auth import Role, User
from server.serials import HighWaterJournal, SerialAuthority
from server.store import write_transaction
from server.store.schema import users

KEY = SerialKey(bytes.fromhex("2DE79D232DF5585D68CE47882AE256D6" * 2))
GTIN = "09506000134352"
SCHEME = SerialScheme(NUMERIC, 12)
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def add_device(store: Engine, name: str, password_hash: str = "x") -> User:
    with write_transaction(store) as conn:
        user_id = conn.execute(
            users.insert().returning(users.c.id),
            {
                "username": name,
                "password_hash": password_hash,
                "role": "device",
                "active": 1,
                "created_at": NOW,
            },
        ).scalar_one()
    return User(int(user_id), name, Role.DEVICE)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[HighWaterJournal]:
    journal = HighWaterJournal(tmp_path / "journal" / "serials.journal")
    yield journal
    journal.close()


@pytest.fixture
def authority(store: Engine, journal: HighWaterJournal) -> SerialAuthority:
    return SerialAuthority(store, key=KEY, journal=journal)


@pytest.fixture
def lines(store: Engine, authority: SerialAuthority) -> tuple[User, User]:
    """Two device identities, bound to plant1/line1 and plant2/line7."""
    one, two = add_device(store, "line1-pc"), add_device(store, "line7-pc")
    authority.register_line("line1-pc", "plant1", "line1", actor="admin", reason="test", now=NOW)
    authority.register_line("line7-pc", "plant2", "line7", actor="admin", reason="test", now=NOW)
    return one, two
