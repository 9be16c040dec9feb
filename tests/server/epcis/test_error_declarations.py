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
from server.store.schema import alerts, containers, error_declarations, event_bodies, events
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


def containment(store: Engine) -> dict[str, tuple[str | None, str]]:
    """SSCC -> (its parent's SSCC, its status) of every container."""
    with read_transaction(store) as conn:
        rows = conn.execute(
            select(containers.c.id, containers.c.sscc, containers.c.parent_id, containers.c.status)
        ).all()
    sscc_of = {row.id: row.sscc for row in rows}
    return {row.sscc: (sscc_of.get(row.parent_id), row.status) for row in rows}


def test_erroneous_unpacking_puts_the_children_back_unless_moved_later(
    store: Engine, ingestor: Ingestor
) -> None:
    wrong = f.unpacking(CASE_A, ["D0", "D1"], time="2025-03-01T09:00:00Z")
    later = f.packing(CASE_B, ["D1"], time="2025-03-01T10:00:00Z")  # D1 really moved on
    capture(
        ingestor,
        [
            f.commissioning(SERIALS),
            f.packing(CASE_A, SERIALS),
            f.packing(PALLET, [CASE_A]),
            wrong,
            later,
        ],
    )
    assert parents(store, "D0") == []
    assert parents(store, "D1") == [CASE_B]
    capture(ingestor, [declared(wrong, [], reason="did_not_occur")])

    assert parents(store, "D0") == [CASE_A, PALLET]  # back in the case
    assert parents(store, "D1") == [CASE_B]  # the later packing's effect stays
    assert parents(store, "D2") == [CASE_A, PALLET]  # never unpacked: unchanged
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "D0"))
    assert trace is not None
    assert wrong["eventID"] not in {event.event_id for event in trace.events}
    # Put back as of its packing: an unpacking older than the erroneous one still applies.
    capture(ingestor, [f.unpacking(CASE_A, ["D0"], time="2025-03-01T08:30:00Z")])
    assert parents(store, "D0") == []


def test_erroneous_unpacking_of_everything_puts_the_children_back(
    store: Engine, ingestor: Ingestor
) -> None:
    pallet_2 = f.sscc(14)
    wrong = f.unpacking(PALLET, [], time="2025-03-01T09:00:00Z")  # no childEPCs: everything
    capture(
        ingestor,
        [
            f.commissioning(SERIALS),
            f.packing(CASE_A, SERIALS[:2]),
            f.packing(CASE_B, SERIALS[2:]),
            f.packing(PALLET, [CASE_A, CASE_B]),
            wrong,
            f.packing(pallet_2, [CASE_B], time="2025-03-01T10:00:00Z"),
        ],
    )
    assert containment(store)[CASE_A] == (None, "packed")
    assert containment(store)[PALLET][1] == "unpacked"
    capture(ingestor, [declared(wrong, [])])

    placed = containment(store)
    assert placed[CASE_A] == (PALLET, "packed")  # back on the pallet
    assert placed[CASE_B] == (pallet_2, "packed")  # moved later: stays on the other pallet
    assert placed[PALLET] == (None, "packed")  # no valid unpacking of it remains
    assert parents(store, "D0") == [CASE_A, PALLET]
    assert parents(store, "D2") == [CASE_B, pallet_2]


def test_erroneous_unpacking_that_overtook_its_packing(store: Engine, ingestor: Ingestor) -> None:
    """The unpacking came first and marked D0 out as of its time, so that the older packing
    would leave it out; once it is declared erroneous, the packing counts when it comes."""
    packing = f.packing(CASE_A, ["D0"], time="2025-03-01T08:01:00Z")
    wrong = f.unpacking(CASE_A, ["D0"], time="2025-03-01T09:00:00Z")
    capture(ingestor, [f.commissioning(["D0"]), wrong])
    capture(ingestor, [declared(wrong, [])])
    assert parents(store, "D0") == []
    capture(ingestor, [packing])
    assert parents(store, "D0") == [CASE_A]


def test_parked_erroneous_unpacking_is_not_applied(store: Engine, ingestor: Ingestor) -> None:
    """Packing and unpacking came before D0 was commissioned (both parked); the unpacking is
    declared erroneous before the commissioning comes."""
    wrong = f.unpacking(CASE_A, ["D0"], time="2025-03-01T09:00:00Z")
    capture(ingestor, [f.packing(CASE_A, ["D0"]), wrong])
    capture(ingestor, [declared(wrong, [])])
    capture(ingestor, [f.commissioning(["D0"])])
    assert parents(store, "D0") == [CASE_A]
