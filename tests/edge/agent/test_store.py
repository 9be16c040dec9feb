"""Group commit, the ledger's records and the outbox, on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import gs1
from edge import outbox, store
from edge.batch import BatchAction, BatchState
from edge.epcis_events import EpcisEvents
from edge.errors import BatchStateError, PayloadError, ReconciliationError
from edge.events import MaterialLot
from edge.ledger import BatchStart, Ledger, closed_on_server
from edge.writer import Writer
from epcis.codec import decode_event
from epcis.hashing import event_hash

GTIN = "09506000134352"
TOPIC = "serialtrace/v1/plant1/line3/events"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "edge.sqlite"


@pytest.fixture
def writer(db: Path) -> Iterator[Writer]:
    w = Writer(store.connect(db))
    w.start()
    yield w
    w.stop()


@pytest.fixture
def ledger() -> Ledger:
    events = EpcisEvents("urn:epc:id:sgln:9506000.00000.3", "urn:epc:id:sgln:9506000.00000.0")
    return Ledger(events, {GTIN: 7}, TOPIC)


def test_schema_and_pragmas(db: Path) -> None:
    conn = store.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.get_meta(conn, "schema_version") == str(store.SCHEMA_VERSION)
    store.connect(db).close()  # opening again is harmless


def test_a_failing_command_is_undone_alone(writer: Writer, db: Path) -> None:
    def insert(key: str):  # type: ignore[no-untyped-def]
        return lambda conn: store.set_meta(conn, key, "1")

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        store.set_meta(conn, "bad", "1")
        raise BatchStateError("refused")

    committed: list[str] = []
    first = writer.submit(insert("a"), then=lambda _: committed.append("a"))
    bad = writer.submit(insert_then_fail, then=lambda _: committed.append("bad"))
    last = writer.submit(insert("b"), then=lambda _: committed.append("b"))
    first.result(5), last.result(5)
    with pytest.raises(BatchStateError):
        bad.result(5)
    reader = store.connect(db)
    assert store.get_meta(reader, "a") == "1" and store.get_meta(reader, "b") == "1"
    assert store.get_meta(reader, "bad") is None
    assert committed == ["a", "b"]


def test_callbacks_run_after_the_commit_is_visible(writer: Writer, db: Path) -> None:
    reader = store.connect(db)
    seen: list[str | None] = []
    done = threading.Event()

    def check(_: None) -> None:
        seen.append(store.get_meta(reader, "k"))
        done.set()

    writer.submit(lambda conn: store.set_meta(conn, "k", "v"), then=check)
    assert done.wait(5)
    assert seen == ["v"]


def test_many_commands_share_commits(db: Path) -> None:
    w = Writer(store.connect(db), gather_s=0.01)
    w.start()
    futures = [w.submit(lambda conn, i=i: store.set_meta(conn, f"k{i}", "v")) for i in range(200)]
    for future in futures:
        future.result(10)
    w.stop()
    assert w.stats.commands == 200
    assert w.stats.commits < 200


def start(ledger: Ledger, writer: Writer, **changes: object) -> object:
    values: dict[str, object] = {"gtin": GTIN, "lot": "L1", "expiry": "281130", "planned": 10}
    values.update(changes)
    request = BatchStart(**values)  # type: ignore[arg-type]
    return writer.call(lambda conn: ledger.start_batch(conn, request))


def rows(db: Path) -> list[outbox.OutboxRow]:
    return outbox.pending(store.connect(db), 0, 1000)


def test_batch_start_writes_its_events_in_the_same_transaction(
    ledger: Ledger, writer: Writer, db: Path
) -> None:
    material = MaterialLot("04012345000009", "BULK-7", 7, 12.5, "KGM")
    batch = start(ledger, writer, materials=(material,))
    assert batch.state is BatchState.RUNNING  # type: ignore[attr-defined]
    events = [json.loads(row.payload) for row in rows(db)]
    assert [e["type"] for e in events] == ["TransformationEvent", "ObjectEvent"]
    transformation, commissioning = events
    assert transformation["inputQuantityList"][0]["epcClass"] == (
        "urn:epc:class:lgtin:4012345.000000.BULK-7"
    )
    assert commissioning["bizStep"] == "commissioning"
    assert commissioning["ilmd"] == {
        "cbvmda:lotNumber": "L1",
        "cbvmda:itemExpirationDate": "2028-11-30",
    }
    for event in events:  # the stored eventID is the event's CBV 2.0 hash
        assert event["eventID"] == event_hash(decode_event(event))


def test_batch_start_problems_are_listed(ledger: Ledger, writer: Writer) -> None:
    with pytest.raises(PayloadError) as caught:
        start(ledger, writer, gtin="09506000134353", lot="L 1", expiry="281340", planned=0)
    message = str(caught.value)
    assert "gtin: expected check digit 2, got 3 in '09506000134353'" in message
    assert "planned: expected a whole number >= 1, got 0" in message
    assert message.count("; ") == 3


def test_one_open_batch_and_one_run_per_lot(ledger: Ledger, writer: Writer) -> None:
    start(ledger, writer)
    with pytest.raises(BatchStateError, match="lot 'L1' is running; close it before"):
        start(ledger, writer, lot="L2")
    writer.call(lambda conn: ledger.transition(conn, BatchAction.STOP))
    writer.call(ledger.close)
    with pytest.raises(BatchStateError, match="lot: 'L1' was already run for GTIN"):
        start(ledger, writer)


def test_unit_flow_and_reconciled_close(ledger: Ledger, writer: Writer, db: Path) -> None:
    batch = start(ledger, writer)

    def allocate(serial: str):  # type: ignore[no-untyped-def]
        return writer.call(lambda conn: ledger.allocate(conn, batch, serial, serial, 0.0))

    good, bad, lost = allocate("100001"), allocate("100002"), allocate("100003")
    for job in (good, bad, lost):
        writer.call(lambda conn, j=job: ledger.encoded(conn, j.unit_id))
    writer.call(lambda conn: ledger.commission(conn, good))
    writer.call(lambda conn: ledger.reject(conn, bad.unit_id, "no_read", None))
    writer.call(lambda conn: ledger.transition(conn, BatchAction.STOP))
    with pytest.raises(ReconciliationError) as refused:
        writer.call(ledger.close)
    assert str(refused.value) == (
        "batch 'L1': close refused: printed 3 = commissioned 1 + rejected 1 + sampled 0 + "
        "scrapped 0 does not balance: difference +1, 1 units still in flight"
    )
    assert writer.call(ledger.recover) == {"encoded": 1}
    closed = writer.call(ledger.close)
    assert closed.state is BatchState.CLOSED
    kinds = [(e["type"], e.get("bizStep"), e.get("action")) for e in map(_json, rows(db))]
    assert kinds.count(("ObjectEvent", "commissioning", "ADD")) == 2  # the lot and one unit
    assert kinds[-1] == ("ObjectEvent", "inspecting", "OBSERVE")
    unit_events = [e for e in map(_json, rows(db)) if e.get("epcList")]
    assert [e["epcList"] for e in unit_events] == [
        [gs1.UnitCode.create(gtin=GTIN, serial="100001").sgtin_uri(7)]
    ]


def test_a_closed_batch_is_closed_on_the_server_once_its_close_event_is_confirmed(
    ledger: Ledger, writer: Writer, db: Path
) -> None:
    start(ledger, writer)
    writer.call(lambda conn: ledger.transition(conn, BatchAction.STOP))
    writer.call(ledger.close)
    close_event = rows(db)[-1]
    assert json.loads(close_event.payload)["bizStep"] == "inspecting"  # the reconciliation
    closes = writer.call(ledger.closes)
    assert closes == [(GTIN, "L1", close_event.line_seq)]
    seq = close_event.line_seq
    assert seq is not None and seq > 1
    assert closed_on_server(closes, seq - 1)[0]["closed_on_server"] is False  # one missing
    assert closed_on_server(closes, seq)[0]["closed_on_server"] is True
    assert closed_on_server(closes, None)[0]["closed_on_server"] is None  # broker-confirmed


def test_recover_scraps_allocated_units_as_printed(ledger: Ledger, writer: Writer) -> None:
    batch = start(ledger, writer)
    writer.call(lambda conn: ledger.allocate(conn, batch, "200001", None, 0.0))
    assert writer.call(ledger.recover) == {"allocated": 1}
    reconciliation = writer.call(lambda conn: ledger.reconciliation(conn, batch.id))  # type: ignore[attr-defined]
    assert reconciliation.printed == 1 and reconciliation.scrapped == 1
    assert reconciliation.balanced


def _json(row: outbox.OutboxRow) -> dict[str, object]:
    return json.loads(row.payload)  # type: ignore[no-any-return]
