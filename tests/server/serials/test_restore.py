"""Restoring the authority's database from a backup never hands a serial out twice.

The backup and the restore are the real ones: SQLite's online backup API and a copy back;
``pg_dump`` / ``pg_restore`` of the test's PostgreSQL schema. What a restore needs: the
high-water journal as it is now (not from the same backup), or the lines' own high water.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from server.auth import User
from server.serials import HighWaterJournal, ScopeKey, SerialAuthority
from server.serials.authority import Pool
from server.store import read_transaction
from server.store.schema import alerts
from tests.server.serials.conftest import GTIN, KEY, NOW, SCHEME

SGTIN = ScopeKey.sgtin(GTIN)
SSCC = ScopeKey.sscc(0, "9506000")


def backup_and_restore(
    store: Engine, folder: Path
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(take a backup, restore it) for the store's engine."""
    url = store.url
    if store.dialect.name == "sqlite":
        database = Path(str(url.database))
        copy = folder / "backup.sqlite"

        def take() -> None:
            with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
                source.backup(target)

        def restore() -> None:
            store.dispose()
            with sqlite3.connect(copy) as source, sqlite3.connect(database) as target:
                source.backup(target)

        return take, restore
    schema = store.dialect.default_schema_name
    with store.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    dump = folder / "backup.dump"
    plain = make_url(str(url.set(drivername="postgresql")))
    dbname = plain.database or "test"

    def take_pg() -> None:
        subprocess.run(
            ["pg_dump", "-n", schema, "-Fc", "-f", str(dump), dbname], check=True, timeout=120
        )

    def restore_pg() -> None:
        store.dispose()
        subprocess.run(
            ["psql", "-q", "-d", dbname, "-c", f"DROP SCHEMA {schema} CASCADE"],
            check=True,
            timeout=120,
        )
        subprocess.run(["pg_restore", "-d", dbname, str(dump)], check=True, timeout=120)

    return take_pg, restore_pg


def overlapping(pools: list[Pool]) -> list[str]:
    seen: dict[str, int] = {}
    for pool in pools:
        for value in pool.values:
            seen[value] = seen.get(value, 0) + 1
    return [value for value, count in seen.items() if count > 1]


def _scenario(
    store: Engine, tmp_path: Path, journal: HighWaterJournal | None, lines: tuple[User, User]
) -> tuple[list[Pool], Callable[[], None]]:
    """Pools before and after a backup; returns them and the restore."""
    authority = SerialAuthority(store, key=KEY, journal=journal)
    authority.register_gtin(GTIN, SCHEME, 1_000_000, actor="qa", reason="x", now=NOW)
    authority.register_sscc(0, "9506000", actor="qa", reason="x", now=NOW)
    one, two = lines
    pools = [
        authority.grant(one, SGTIN, 100, "a1", now=NOW),
        authority.grant(one, SSCC, 10, "s1", now=NOW),
    ]
    take, restore = backup_and_restore(store, tmp_path)
    take()
    pools += [
        authority.grant(one, SGTIN, 100, "a2", now=NOW),
        authority.grant(two, SGTIN, 100, "b1", now=NOW),
        authority.grant(two, SSCC, 10, "s2", now=NOW),
    ]
    return pools, restore


def test_after_a_restore_the_journal_raises_every_counter(
    store: Engine,
    tmp_path: Path,
    journal: HighWaterJournal,
    authority: SerialAuthority,
    lines: tuple[User, User],
) -> None:
    pools, restore = _scenario(store, tmp_path, journal, lines)
    restore()
    restarted = SerialAuthority(store, key=KEY, journal=journal)
    raised = restarted.reconcile_journal(now=NOW)
    assert raised == {SGTIN: (100, 300), SSCC: (10, 20)}
    one, two = lines
    pools += [
        restarted.grant(two, SGTIN, 100, "b2", now=NOW),
        restarted.grant(one, SSCC, 10, "s3", now=NOW),
    ]
    assert pools[-2].start == 300 and pools[-1].start == 20
    assert overlapping(pools) == []
    assert restarted.summary(SGTIN).skipped == 200
    with read_transaction(store) as conn:
        assert [r.kind for r in conn.execute(select(alerts.c.kind))] == ["serial_floor_raised"] * 2


def test_a_restore_under_a_running_authority_is_caught_at_the_next_grant(
    store: Engine, tmp_path: Path, journal: HighWaterJournal, lines: tuple[User, User]
) -> None:
    """The database goes back while the authority runs (restored under it, or a failover to
    a replica that had not received the last commits): the next grant reads the journal."""
    pools, restore = _scenario(store, tmp_path, journal, lines)
    authority = SerialAuthority(store, key=KEY, journal=journal)
    restore()
    one, two = lines
    pools += [
        authority.grant(two, SGTIN, 100, "b2", now=NOW),
        authority.grant(one, SSCC, 10, "s3", now=NOW),
    ]
    assert (pools[-2].start, pools[-1].start) == (300, 20)
    assert overlapping(pools) == []
    with read_transaction(store) as conn:
        assert [r.kind for r in conn.execute(select(alerts.c.kind))] == ["serial_floor_raised"] * 2


def test_without_the_journal_a_lines_high_water_raises_the_counter(
    store: Engine, tmp_path: Path, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    pools, restore = _scenario(store, tmp_path, None, lines)
    restore()
    restarted = SerialAuthority(store, key=KEY, journal=None)
    one, _ = lines
    # the line's buffer remembers the highest stop it received for the GTIN (200: pool a2)
    pools.append(restarted.grant(one, SGTIN, 100, "a3", high_water=200, now=NOW))
    assert pools[-1].start == 200
    # line two's pool b1 (200..300) is still at risk: what the journal is for
    assert overlapping(pools) == pools[3].values


def test_without_any_protection_a_restore_would_hand_out_again(
    store: Engine, tmp_path: Path, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    """The failure the journal prevents, shown: the same test as above without it."""
    pools, restore = _scenario(store, tmp_path, None, lines)
    restore()
    pools.append(
        SerialAuthority(store, key=KEY, journal=None).grant(lines[1], SGTIN, 100, "z", now=NOW)
    )
    assert overlapping(pools) == pools[2].values


def test_a_torn_or_corrupt_journal_line_is_ignored(tmp_path: Path) -> None:
    journal = HighWaterJournal(tmp_path / "j")
    journal.append("sgtin", GTIN, 100, now=NOW)
    journal.append("sgtin", GTIN, 50, now=NOW)
    journal.append("sscc", "09506000", 7, now=NOW)
    journal.close()
    with open(tmp_path / "j", "ab") as file:
        file.write(b"v1 sgtin 09506000134352 999999 2025-03-01T08:00:00+00:00 00000000\n")
        file.write(b"v1 sgtin 09506000134352 888")  # torn: power cut mid-append
    assert HighWaterJournal(tmp_path / "j").high_waters() == {
        ("sgtin", GTIN): 100,
        ("sscc", "09506000"): 7,
    }


def test_an_append_after_a_torn_line_is_kept(tmp_path: Path) -> None:
    """A torn last line must not swallow the next one: it is appended on a line of its own."""
    journal = HighWaterJournal(tmp_path / "j")
    journal.append("sgtin", GTIN, 100, now=NOW)
    journal.close()
    with open(tmp_path / "j", "ab") as file:
        file.write(b"v1 sgtin 09506000134352 2")  # torn: power cut mid-append
    reopened = HighWaterJournal(tmp_path / "j")
    reopened.append("sgtin", GTIN, 300, now=NOW)
    reopened.close()
    assert HighWaterJournal(tmp_path / "j").high_waters() == {("sgtin", GTIN): 300}


def test_high_waters_follow_appends_of_other_processes(tmp_path: Path) -> None:
    """Two authority processes may share one journal: each sees the other's appends."""
    one, two = HighWaterJournal(tmp_path / "j"), HighWaterJournal(tmp_path / "j")
    one.append("sgtin", GTIN, 100, now=NOW)
    assert two.high_waters() == {("sgtin", GTIN): 100}
    two.append("sgtin", GTIN, 250, now=NOW)
    one.append("sscc", "09506000", 7, now=NOW)
    assert one.high_waters() == two.high_waters() == {("sgtin", GTIN): 250, ("sscc", "09506000"): 7}
    one.close()
    two.close()


def test_an_unwritable_journal_is_a_config_error(tmp_path: Path) -> None:
    from server.errors import ConfigError

    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"^serials_journal: expected a writable file path"):
        HighWaterJournal(tmp_path / "file" / "journal")
