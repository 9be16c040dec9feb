"""The ledger builds its units' codes with its code scheme (GS1 by default): a line on a
non-GS1 scheme allocates, commissions, samples and decommissions units named by that
scheme's EPCs, with the same records and events."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import gs1
from edge import outbox, store
from edge.epcis_events import EpcisEvents
from edge.ledger import Ledger, utc_now
from tests.identity.toy import TOY, ToyCode

TOPIC = "serialtrace/v1/plant1/line3/events"
PRODUCT = "123456"


def toy_line(tmp_path: Path) -> tuple[Ledger, sqlite3.Connection]:
    conn = store.connect(tmp_path / "edge.sqlite")
    events = EpcisEvents("urn:epc:id:sgln:9506000.00000.3", "urn:epc:id:sgln:9506000.00000.0")
    ledger = Ledger(events, {PRODUCT: 7}, TOPIC, scheme=TOY)
    now = utc_now()
    conn.execute(  # the edge's batch start still validates a GTIN: see docs/identity.md
        "INSERT INTO batches (gtin, lot, expiry, planned, materials, state, started_at,"
        " updated_at) VALUES (?, 'L7', '281130', 10, '[]', 'running', ?, ?)",
        (PRODUCT, now, now),
    )
    return ledger, conn


def test_the_default_scheme_is_gs1() -> None:
    events = EpcisEvents("urn:epc:id:sgln:9506000.00000.3", "urn:epc:id:sgln:9506000.00000.0")
    assert Ledger(events, {}, TOPIC).scheme is gs1.GS1


def test_a_toy_unit_goes_through_the_ledger(tmp_path: Path) -> None:
    ledger, conn = toy_line(tmp_path)
    batch = ledger.require_current(conn)
    job = ledger.allocate(conn, batch, "0000000042", "t1", 0.0)
    assert isinstance(job.code, ToyCode) and job.serial == "0000000042"
    assert job.code.lot == "L7" and job.code.expiry_date() is not None
    ledger.encoded(conn, job.unit_id)
    ledger.commission(conn, job)
    (row,) = outbox.pending(conn, 0, 10)
    event = json.loads(row.payload)
    assert event["epcList"] == ["urn:example:toy:123456.0000000042"]
    assert event["bizStep"] == "commissioning"
    assert event["ilmd"] == {
        "cbvmda:lotNumber": "L7",
        "cbvmda:itemExpirationDate": "2028-11-30",
    }
    ledger.decommission(conn, job.unit_id, "damaged")
    last = json.loads(outbox.pending(conn, 0, 10)[-1].payload)
    assert last["action"] == "DELETE"
    assert last["epcList"] == ["urn:example:toy:123456.0000000042"]
