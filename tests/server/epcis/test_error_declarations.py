"""Error declarations (EPCIS 2.0 section 7.4.1.4) and corrective events, both engines.

Capturing an event again with the same eventID and an ``errorDeclaration`` marks the stored
event erroneous (reason, declaration time, corrective eventIDs) and leaves its stored body
as it was; queries see the declaration; the unit trace and the recall reach stop counting
what the erroneous event asserted and follow the corrective events. Before this, such a
capture answered 202 and the declaration was lost (the regression these tests pin)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from server.identifiers import UnitKey
from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from server.store import read_transaction
from server.store.event_query import run_query
from server.store.queries import batch_reach, trace_unit
from server.store.schema import alerts, error_declarations, event_bodies, events
from tests.server import factory as f

SERIALS = ["D0", "D1", "D2", "D3"]
CASE_A, CASE_B, PALLET = f.sscc(11), f.sscc(12), f.sscc(13)


def capture(ingestor: Ingestor, events_: list[dict[str, Any]]) -> None:
    outcome = ingestor.ingest_payload(f.payload(events_), Origin("http"))
    assert outcome.accepted, outcome.reason


def declared(
    event: dict[str, Any], corrective: list[str], reason: str = "incorrect_data"
) -> dict[str, Any]:
    return {
        **event,
        "errorDeclaration": {
            "declarationTime": "2025-03-04T08:00:00.000+01:00",
            "reason": reason,
            "correctiveEventIDs": corrective,
        },
    }


def query_ids(store: Engine, **params: str) -> list[str]:
    with read_transaction(store) as conn:
        page = run_query(conn, {k: [v] for k, v in params.items()}, per_page=50)
    return [event["eventID"] for event in page.events]


def parents(store: Engine, serial: str) -> list[str]:
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, serial))
    assert trace is not None
    return [parent.sscc for parent in trace.parents]


def test_declaration_marks_the_event_and_the_trace_follows_the_correction(
    store: Engine, ingestor: Ingestor
) -> None:
    wrong = f.packing(CASE_A, SERIALS[:2])  # D0, D1 went into case B in fact
    capture(
        ingestor,
        [
            f.commissioning(SERIALS),
            wrong,
            f.packing(CASE_B, SERIALS[2:]),
            f.packing(PALLET, [CASE_A, CASE_B]),
        ],
    )
    assert parents(store, "D0") == [CASE_A, PALLET]
    with read_transaction(store) as conn:
        body_before = conn.execute(
            select(event_bodies.c.body)
            .join(events, events.c.pk == event_bodies.c.event_pk)
            .where(events.c.event_id == wrong["eventID"])
        ).scalar_one()
    correction = f.packing(CASE_B, SERIALS[:2], time="2025-03-04T07:00:00Z")
    capture(ingestor, [declared(wrong, [correction["eventID"]]), correction])

    with read_transaction(store) as conn:
        row = conn.execute(
            select(error_declarations, events.c.event_id).join(
                events, events.c.pk == error_declarations.c.event_pk
            )
        ).one()
        body_after = conn.execute(
            select(event_bodies.c.body).where(event_bodies.c.event_pk == row.event_pk)
        ).scalar_one()
        alert = conn.execute(select(alerts).where(alerts.c.kind == "error_declaration")).one()
    assert row.event_id == wrong["eventID"] and row.reason == "incorrect_data"
    assert row.declared_at.isoformat() == "2025-03-04T07:00:00+00:00"
    assert body_after == body_before  # the stored event itself is never changed
    assert alert.subject == wrong["eventID"]

    assert query_ids(store, EXISTS_errorDeclaration="true") == [wrong["eventID"]]
    assert query_ids(store, EQ_errorReason="incorrect_data") == [wrong["eventID"]]
    assert query_ids(store, EQ_correctiveEventID=correction["eventID"]) == [wrong["eventID"]]
    assert query_ids(store, GE_errorDeclarationTime="2025-03-04T07:00:00Z") == [wrong["eventID"]]
    [shown] = [e for e in query_ids_events(store) if e["eventID"] == wrong["eventID"]]
    assert shown["errorDeclaration"]["correctiveEventIDs"] == [correction["eventID"]]

    # The trace follows the corrective event; the erroneous one no longer counts.
    assert parents(store, "D0") == [CASE_B, PALLET]
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "D0"))
        assert trace is not None
        assert wrong["eventID"] not in {event.event_id for event in trace.events}
        assert correction["eventID"] in {event.event_id for event in trace.events}
        recall = batch_reach(conn, f.GTIN, "LOT1")
    assert recall is not None
    sscc_of = {key: sscc for key, (sscc, _, _) in recall.containers.items()}
    inside = {(sscc, sscc_of.get(parent)) for sscc, _, parent in recall.containers.values()}
    assert (CASE_B, PALLET) in inside


def query_ids_events(store: Engine) -> list[dict[str, Any]]:
    with read_transaction(store) as conn:
        return run_query(conn, {}, per_page=50).events


def test_erroneous_shipping_leaves_the_recall_reach(store: Engine, ingestor: Ingestor) -> None:
    shipping = f.shipping([PALLET])
    capture(
        ingestor,
        [
            f.commissioning(SERIALS),
            f.packing(CASE_A, SERIALS),
            f.packing(PALLET, [CASE_A]),
            shipping,
        ],
    )
    with read_transaction(store) as conn:
        recall = batch_reach(conn, f.GTIN, "LOT1")
        assert recall is not None and len(recall.shipments) == 1
    capture(ingestor, [declared(shipping, [], reason="did_not_occur")])
    with read_transaction(store) as conn:
        recall = batch_reach(conn, f.GTIN, "LOT1")
        assert recall is not None and recall.shipments == []


def test_a_second_declaration_keeps_the_first(store: Engine, ingestor: Ingestor) -> None:
    event = f.decommissioning(["D0"])
    capture(ingestor, [f.commissioning(["D0"]), event])
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "D0"))
    assert trace is not None and trace.status == "decommissioned"
    capture(ingestor, [declared(event, ["urn:uuid:first"])])
    capture(ingestor, [declared(event, ["urn:uuid:second"], reason="did_not_occur")])
    with read_transaction(store) as conn:
        row = conn.execute(select(error_declarations)).one()
        trace = trace_unit(conn, UnitKey(f.GTIN, "D0"))
    assert row.reason == "incorrect_data" and row.corrective_ids == '["urn:uuid:first"]'
    assert trace is not None and trace.status == "active"  # the decommissioning was wrong


def test_event_captured_with_its_declaration(store: Engine, ingestor: Ingestor) -> None:
    """GS1's pattern: the erroneous event arrives already carrying its declaration."""
    event = declared(f.packing(CASE_A, ["D9"]), ["urn:uuid:fix"])
    capture(ingestor, [f.commissioning(["D9"]), event])
    assert query_ids(store, EXISTS_errorDeclaration="true") == [event["eventID"]]
    assert query_ids(store, EQ_correctiveEventID="urn:uuid:fix") == [event["eventID"]]
    assert parents(store, "D9") == []
