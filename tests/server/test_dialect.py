"""The bulk statements of ingest: conflicts skipped on both engines, COPY all or nothing."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from server.store import write_transaction
from server.store.dialect import bulk_insert, bulk_update, copy_unless_conflict, new_ids
from server.store.schema import units

COLUMNS = ("id", "gtin", "serial", "status", "commission_event")


def rows(first_id: int, serials: list[str]) -> list[tuple[object, ...]]:
    return [
        (first_id + index, "09506000134352", serial, "active", 1)
        for index, serial in enumerate(serials)
    ]


def stored(store: Engine) -> dict[str, int]:
    with store.connect() as conn:
        return dict(conn.execute(select(units.c.serial, units.c.id)).all())  # type: ignore[arg-type]


def test_insert_ignoring_conflicts_keeps_the_stored_rows(store: Engine) -> None:
    with write_transaction(store) as conn:
        assert bulk_insert(conn, units, COLUMNS, rows(1, ["A", "B"]), ignore_conflicts=True) == 2
    with write_transaction(store) as conn:
        inserted = bulk_insert(
            conn, units, COLUMNS, rows(10, ["B", "C", "D"]), ignore_conflicts=True
        )
    assert inserted == 2
    assert stored(store) == {"A": 1, "B": 2, "C": 11, "D": 12}


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_copy_is_all_or_nothing_and_the_transaction_goes_on(store: Engine) -> None:
    with write_transaction(store) as conn:
        assert copy_unless_conflict(conn, units, COLUMNS, rows(1, ["A", "B"]))
        # One serial stored already: nothing of this COPY goes in, the transaction goes on.
        assert not copy_unless_conflict(conn, units, COLUMNS, rows(10, ["C", "A"]))
        assert conn.execute(select(func.count()).select_from(units)).scalar() == 2
        assert copy_unless_conflict(conn, units, COLUMNS, rows(20, ["E"]))
    assert stored(store) == {"A": 1, "B": 2, "E": 20}


def test_new_ids_are_new_and_distinct(store: Engine) -> None:
    with write_transaction(store) as conn:
        first = list(new_ids(conn, units, "id", 3))
        bulk_insert(conn, units, COLUMNS, rows(first[0], ["A", "B", "C"]))
        second = list(new_ids(conn, units, "id", 2))
        assert list(new_ids(conn, units, "id", 0)) == []
    assert len(first) == 3 and len(second) == 2
    assert min(second) > max(first)


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_new_ids_that_are_not_consecutive_come_back_one_by_one(store: Engine) -> None:
    """When the values are not consecutive (another session took some meanwhile; here the
    sequence steps by 3), each value comes back as taken."""
    with write_transaction(store) as conn:
        sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence('units', 'id')").scalar()
        conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} INCREMENT BY 3")
        taken = new_ids(conn, units, "id", 4)
        assert isinstance(taken, list)
        assert [b - a for a, b in pairwise(taken)] == [3, 3, 3]
        assert bulk_insert(conn, units, COLUMNS, rows(taken[0], ["A"])) == 1


def test_bulk_update_sets_each_row_its_value(store: Engine) -> None:
    with write_transaction(store) as conn:
        bulk_insert(conn, units, COLUMNS, rows(1, ["A", "B", "C"]))
        bulk_update(conn, units, "id", "parent_id", [(1, 10), (3, 30)])
        bulk_update(conn, units, "id", "parent_id", [])
    with store.connect() as conn:
        parents = dict(conn.execute(select(units.c.serial, units.c.parent_id)).all())  # type: ignore[arg-type]
    assert parents == {"A": 10, "B": None, "C": 30}


def test_skipping_conflicts_never_skips_a_missing_value(store: Engine) -> None:
    """Only a unique key makes a row be skipped: NULL in a NOT NULL column is an error."""
    missing_status = [(1, "09506000134352", "A", None, 1)]
    with pytest.raises(IntegrityError), write_transaction(store) as conn:
        bulk_insert(conn, units, COLUMNS, missing_status, ignore_conflicts=True)
    assert stored(store) == {}
