"""The bulk statements of ingest: conflicts skipped on both engines, COPY all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from server.store import write_transaction
from server.store.dialect import bulk_insert, copy_unless_conflict, next_ids
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


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_next_ids_are_new_and_distinct(store: Engine) -> None:
    with write_transaction(store) as conn:
        first = next_ids(conn, units, "id", 3)
        second = next_ids(conn, units, "id", 2)
    assert len(set(first + second)) == 5
    assert min(second) > max(first)
