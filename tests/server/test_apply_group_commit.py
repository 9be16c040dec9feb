"""The group commit (server.ingest.apply.unit_of_work): a group of documents is applied with
one statement per table, however many documents it holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from tests.server import factory as f
from tests.server.conftest import register_line

MQTT = Origin("mqtt", "site1", "line1")


# An expanded IN list, and the PostgreSQL schema of a test store.
IN_LIST = re.compile(r"\((?:\?|%\(\w+\)s(?:::\w+)?)(?:, (?:\?|%\(\w+\)s(?:::\w+)?))*\)")
SCHEMA = re.compile(r"\bt_[0-9a-f]{12}\.")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs meanwhile (IN lists and schema names elided)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(SCHEMA.sub("", IN_LIST.sub("(...)", args[2])))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def group_of(pallets: int) -> list[tuple[bytes, Origin, str | None]]:
    """The documents of ``pallets`` pallets (commissioning and packing of each case, packing
    of each pallet), with their own serials and SSCCs."""
    line = f.Line(units_per_case=5, cases_per_pallet=3, serial_prefix=f"P{pallets}")
    for _ in range(pallets):
        line.pallet()
    return [(f.payload(document), MQTT, None) for document in line.documents]


def test_a_group_runs_the_same_statements_for_4_or_40_documents(
    store: Engine, ingestor: Ingestor, other_store: Engine
) -> None:
    small, large = group_of(1), group_of(10)  # 4 and 40 documents
    register_line(other_store, "site1", "line1")
    other = Ingestor(other_store, max_payload_bytes=ingestor.max_payload_bytes)
    with statements(store) as few:
        outcomes = ingestor.ingest_many(small)
    with statements(other_store) as many:
        outcomes += other.ingest_many(large)
    assert all(outcome.accepted for outcome in outcomes)
    assert sum(outcome.result.commissioned for outcome in outcomes if outcome.result) == 165
    assert many == few
