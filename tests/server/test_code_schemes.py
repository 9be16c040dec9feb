"""The store keeps units of any code scheme (migration 0017): a toy non-GS1 scheme's units
go through ingest into ``units`` with no schema change, keyed by (gtin, serial, scheme);
the migration runs up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from identity import register_scheme, unregister_scheme
from server.identifiers import UnitKey, canonical, forget_parsed, parse_unit, unit_of_key
from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from server.store import read_transaction, write_transaction
from server.store.event_query import run_query
from server.store.migrate import downgrade, upgrade
from server.store.queries import trace_unit
from server.store.schema import batches, units
from tests.identity.toy import TOY
from tests.server import factory as f

MQTT = Origin("mqtt", "site1", "line1")
TOY_EPC = "urn:example:toy:123456.0000000042"
TOY_UNIT = UnitKey("123456", "0000000042", "toy")


@pytest.fixture
def toy() -> Iterator[None]:
    register_scheme(TOY)
    forget_parsed()
    yield
    unregister_scheme("toy")
    forget_parsed()


def toy_commissioning(*epcs: str) -> dict[str, Any]:
    event = f.commissioning([])
    event["epcList"] = list(epcs)
    return event


def ingest(ingestor: Ingestor, events: list[dict[str, Any]]) -> None:
    outcome = ingestor.ingest_payload(f.payload(events), MQTT, topic="t")
    assert outcome.accepted, outcome.reason


def unit_rows(store: Engine) -> list[tuple[str, str, str, str]]:
    with read_transaction(store) as conn:
        query = select(units.c.scheme, units.c.gtin, units.c.serial, units.c.status)
        return sorted(tuple(row) for row in conn.execute(query))  # type: ignore[misc]


@pytest.mark.usefixtures("toy")
def test_a_toy_unit_is_stored_through_ingest(store: Engine, ingestor: Ingestor) -> None:
    assert parse_unit(TOY_EPC) == TOY_UNIT
    assert canonical(TOY_EPC) == "toy:123456:0000000042" == TOY_UNIT.key
    assert unit_of_key(TOY_UNIT.key) == TOY_UNIT
    ingest(ingestor, [toy_commissioning(TOY_EPC), f.commissioning(["A1"])])
    assert unit_rows(store) == [
        ("gs1", f.GTIN, "A1", "active"),
        ("toy", "123456", "0000000042", "active"),
    ]
    with read_transaction(store) as conn:
        trace = trace_unit(conn, TOY_UNIT)
        assert trace is not None and trace.lot == "LOT1" and trace.status == "active"
        assert [e.biz_step for e in trace.events] == ["commissioning"]
        assert conn.execute(select(batches.c.gtin).order_by(batches.c.gtin)).scalars().all() == [
            f.GTIN,
            "123456",
        ]
        page = run_query(conn, {"MATCH_epc": [TOY_EPC]}, per_page=10)
        assert [event["epcList"] for event in page.events] == [[TOY_EPC]]
    # the same serial again is a duplicate of the toy unit, not a second unit
    ingest(ingestor, [toy_commissioning(TOY_EPC)])
    decommission = f.decommissioning([])
    decommission["epcList"] = [TOY_EPC]
    ingest(ingestor, [decommission])
    assert unit_rows(store)[1] == ("toy", "123456", "0000000042", "decommissioned")


def test_without_its_scheme_a_toy_epc_names_no_unit(store: Engine, ingestor: Ingestor) -> None:
    forget_parsed()
    assert parse_unit(TOY_EPC) is None and canonical(TOY_EPC) == TOY_EPC
    ingest(ingestor, [toy_commissioning(TOY_EPC)])
    assert unit_rows(store) == []


def test_the_key_is_gtin_serial_and_scheme(store: Engine) -> None:
    row = {
        "gtin": "P" * 64,  # another scheme's product: up to 64 characters
        "serial": "S" * 64,
        "status": "active",
        "commission_event": 1,
    }
    with write_transaction(store) as conn:
        conn.execute(units.insert(), {**row, "scheme": "toy"})
        conn.execute(units.insert(), row)  # gs1 by default
        schemes = conn.execute(select(units.c.scheme).order_by(units.c.scheme)).scalars().all()
        assert schemes == ["gs1", "toy"]
    with pytest.raises(IntegrityError), write_transaction(store) as conn:
        conn.execute(units.insert(), {**row, "scheme": "toy"})


def test_migration_0017_keeps_units_as_gs1_and_goes_down_only_without_others(
    store: Engine,
) -> None:
    downgrade(store, "0016")
    with write_transaction(store) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO units (gtin, serial, status, commission_event)"
                " VALUES (:gtin, 'A1', 'active', 1)"
            ),
            {"gtin": f.GTIN},
        )
        with pytest.raises(IntegrityError), conn.begin_nested():  # old key: (gtin, serial)
            conn.execute(
                sa.text(
                    "INSERT INTO units (gtin, serial, status, commission_event)"
                    " VALUES (:gtin, 'A1', 'active', 2)"
                ),
                {"gtin": f.GTIN},
            )
    upgrade(store)
    with write_transaction(store) as conn:
        assert conn.execute(select(units.c.scheme, units.c.serial)).all() == [("gs1", "A1")]
        conn.execute(
            units.insert(),
            {"gtin": f.GTIN, "serial": "A1", "scheme": "toy", "status": "active",
             "commission_event": 2},
        )  # fmt: skip
    with pytest.raises(RuntimeError, match=r"units: expected only GS1 units to go below 0017"):
        downgrade(store, "0016")
    with write_transaction(store) as conn:
        conn.execute(units.delete().where(units.c.scheme == "toy"))
    downgrade(store, "0016")
    upgrade(store)
    with read_transaction(store) as conn:
        assert conn.execute(select(func.count()).select_from(units)).scalar() == 1
