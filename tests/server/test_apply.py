"""Ingest semantics on both engines: derive, idempotency, reordering, parking, dead letters."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from server.identifiers import UnitKey
from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from server.store import read_transaction
from server.store.event_query import run_query
from server.store.queries import batch_reach, container_tree, trace_unit
from server.store.schema import alerts, dead_letters, events, parked_events, unit_events, units
from tests.server import factory as f
from tests.server.conftest import register_line

MQTT = Origin("mqtt", "site1", "line1")


def ingest(ingestor: Ingestor, events_: list[dict[str, Any]]) -> None:
    outcome = ingestor.ingest_payload(f.payload(events_), MQTT, topic="t")
    assert outcome.accepted, outcome.reason


def final_state(store: Engine) -> dict[str, Any]:
    """Everything derived, independent of row ids and arrival order."""
    with read_transaction(store) as conn:
        unit_rows = conn.execute(
            select(units.c.gtin, units.c.serial, units.c.status, units.c.parent_id)
        ).all()
        traces = {}
        for row in unit_rows:
            trace = trace_unit(conn, UnitKey(row.gtin, row.serial))
            assert trace is not None
            traces[row.serial] = (
                trace.status,
                trace.lot,
                [p.sscc for p in trace.parents],
                [p.level for p in trace.parents],
                None if trace.shipment is None else trace.shipment.destination,
            )
        counts = {
            "events": conn.execute(select(func.count()).select_from(events)).scalar(),
            "parked": conn.execute(select(func.count()).select_from(parked_events)).scalar(),
            "alerts": conn.execute(select(func.count()).select_from(alerts)).scalar(),
        }
    return {"units": traces, **counts}


def test_commission_pack_ship_trace(store: Engine, ingestor: Ingestor) -> None:
    line = f.Line(units_per_case=3, cases_per_pallet=2)
    pallet, cases, serials = line.pallet()
    for document in line.documents:
        ingest(ingestor, document)
    ingest(ingestor, [f.shipping([pallet])])
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, serials[0]))
        assert trace is not None
        assert (trace.lot, trace.expiry, trace.status) == ("LOT1", "2027-01-31", "active")
        assert [(p.sscc, p.level) for p in trace.parents] == [
            (cases[0], "case"),
            (pallet, "pallet"),
        ]
        assert trace.shipment is not None
        assert trace.shipment.destination == "urn:epc:id:sgln:4012345.00001.0"
        assert trace.shipment.customer == "urn:epc:id:pgln:4012345.00000"
        assert [e.biz_step for e in trace.events] == [
            "commissioning",
            "packing",
            "packing",
            "shipping",
        ]
        tree = container_tree(conn, pallet)
        assert tree is not None and tree.level == "pallet"
        assert [c.sscc for c in tree.containers] == cases
        assert [u.serial for u in tree.containers[1].units] == serials[3:]
        reach = batch_reach(conn, f.GTIN, "LOT1")
        assert reach is not None
        assert sorted(row[2] for row in reach.unit_rows) == sorted(serials)
        assert sorted(c[0] for c in reach.containers.values()) == sorted([*cases, pallet])
        assert [s.ssccs for s in reach.shipments] == [[pallet]]


def test_same_document_commission_and_pack(store: Engine, ingestor: Ingestor) -> None:
    case = f.sscc(7)
    ingest(ingestor, [f.commissioning(["A1", "A2"]), f.packing(case, ["A1", "A2"])])
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "A2"))
        assert trace is not None and [p.sscc for p in trace.parents] == [case]


def test_duplicates_replays_and_reordering_give_the_same_state(
    store: Engine, ingestor: Ingestor
) -> None:
    line = f.Line(units_per_case=2, cases_per_pallet=2)
    pallet, _, serials = line.pallet()
    documents = [*line.documents, [f.shipping([pallet])], [f.decommissioning(serials[:1])]]
    shuffled = documents[:]
    random.Random(7).shuffle(shuffled)
    for document in shuffled + documents[::-1] + shuffled:  # every document three times
        ingest(ingestor, document)
    reordered = final_state(store)
    assert reordered["parked"] == 0
    assert reordered["events"] == sum(len(d) for d in documents)
    assert reordered["units"][serials[0]][0] == "decommissioned"
    assert reordered["units"][serials[1]] == (
        "active",
        "LOT1",
        [f.sscc(1), pallet],
        ["case", "pallet"],
        "urn:epc:id:sgln:4012345.00001.0",
    )


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_aggregation_before_commissioning_is_parked_then_applied(
    store: Engine, ingestor: Ingestor, order: tuple[int, ...]
) -> None:
    case, pallet = f.sscc(1), f.sscc(2, extension=1)
    documents = [
        [f.commissioning(["P1", "P2"])],
        [f.packing(case, ["P1", "P2"])],
        [f.packing(pallet, [case])],
    ]
    for index in order:
        ingest(ingestor, documents[index])
    state = final_state(store)
    assert state["parked"] == 0
    assert state["units"]["P1"][2:4] == ([case, pallet], ["case", "pallet"])


def test_parked_until_the_children_arrive(store: Engine, ingestor: Ingestor) -> None:
    ingest(ingestor, [f.packing(f.sscc(1), ["Q1", "Q2"])])
    assert final_state(store)["parked"] == 1
    ingest(ingestor, [f.commissioning(["Q1"])])
    assert final_state(store)["parked"] == 1  # still waits for Q2
    ingest(ingestor, [f.commissioning(["Q2"])])
    state = final_state(store)
    assert state["parked"] == 0
    assert state["units"]["Q1"][2] == state["units"]["Q2"][2] == [f.sscc(1)]


def test_same_serial_commissioned_twice_raises_an_alert(store: Engine, ingestor: Ingestor) -> None:
    ingest(ingestor, [f.commissioning(["D1"])])
    ingest(ingestor, [f.commissioning(["D1"], lot="LOT2")])
    with read_transaction(store) as conn:
        assert conn.execute(select(func.count()).select_from(units)).scalar() == 1
        rows = conn.execute(select(alerts.c.kind, alerts.c.subject)).all()
    assert [tuple(r) for r in rows] == [("duplicate_commission", f"(01){f.GTIN}(21)D1")]


def test_decommission_destroy_and_unpack(store: Engine, ingestor: Ingestor) -> None:
    case = f.sscc(3)
    ingest(ingestor, [f.commissioning(["X1", "X2", "X3"]), f.packing(case, ["X1", "X2", "X3"])])
    ingest(
        ingestor,
        [
            f.decommissioning(["X1"], step="dispensing"),
            f.decommissioning(["X2"], step="destroying"),
            f.unpacking(case, ["X3"]),
        ],
    )
    state = final_state(store)["units"]
    assert state["X1"][0] == "decommissioned"
    assert state["X2"][0] == "destroyed"
    assert state["X3"][2] == []
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "X1"))
        assert trace is not None and trace.status_reason == "dispensing"


def test_missing_event_id_gets_the_event_hash(store: Engine, ingestor: Ingestor) -> None:
    event = f.commissioning(["H1"])
    del event["eventID"]
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT)
    assert outcome.result is not None
    (event_id,) = outcome.result.event_ids
    assert event_id.startswith("ni:///sha-256;") and event_id.endswith("?ver=CBV2.0")
    again = ingestor.ingest_payload(f.payload([event]), MQTT)
    assert again.result is not None and again.result.duplicates == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            b"{not json",
            "payload: expected JSON, got a syntax error: Expecting property name "
            "enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (b"\xff\xfe", "payload: expected UTF-8 JSON, got invalid UTF-8"),
        (b"[1, 2]", "document: expected a JSON object, got list"),
        (
            b'{"type": "Nope"}',
            "type: expected 'EPCISDocument' or 'EPCISQueryDocument', got \"Nope\"",
        ),
        (b"x" * 300_000, "payload: expected at most 262144 bytes, got 300000 bytes"),
    ],
)
def test_bad_payloads_become_dead_letters(
    store: Engine, ingestor: Ingestor, payload: bytes, reason: str
) -> None:
    outcome = ingestor.ingest_payload(payload, MQTT, topic="serialtrace/v1/s/l/events")
    assert not outcome.accepted
    assert outcome.reason is not None and outcome.reason.startswith(reason)
    with read_transaction(store) as conn:
        row = conn.execute(select(dead_letters)).one()
    assert (row.reason, row.size, row.topic) == (
        outcome.reason,
        len(payload),
        "serialtrace/v1/s/l/events",
    )


def test_schema_violation_names_the_field(store: Engine, ingestor: Ingestor) -> None:
    event = f.commissioning(["V1"])
    event["action"] = "EXPLODE"
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT)
    assert outcome.reason is not None
    assert outcome.reason.startswith("EPCIS schema: ")
    assert "EXPLODE" in outcome.reason and "action" in outcome.reason.lower()


def test_hostile_strings_never_crash(store: Engine, ingestor: Ingestor) -> None:
    event = f.commissioning(["N1"], lot="L\x00^~'; DROP TABLE units;--"[:20])
    outcome = ingestor.ingest_payload(f.payload([event]), MQTT)
    # SQLite stores the NUL; PostgreSQL refuses it: either way a clear outcome, no crash.
    if outcome.accepted:
        with read_transaction(store) as conn:
            assert conn.execute(select(func.count()).select_from(units)).scalar() == 1
    else:
        assert outcome.reason is not None and "store refused a value" in outcome.reason


def test_transformation_records_raw_material_lots(store: Engine, ingestor: Ingestor) -> None:
    ingest(ingestor, [f.transformation(["RM1", "RM2"])])  # as the edge sends them: batch
    ingest(ingestor, [f.commissioning(["T1"])])  # start first, then the units
    from server.store.queries import get_batch

    with read_transaction(store) as conn:
        batch = get_batch(conn, f.GTIN, "LOT1")
    assert batch is not None
    assert [item["input"] for item in batch.raw_material_lots] == [
        "(01)04012345111118(10)RM1",
        "(01)04012345111118(10)RM2",
    ]
    assert batch.counts == {"active": 1}
    assert batch.expiry == "2027-01-31"  # named first by the transformation, without expiry


def test_group_commit_isolates_a_bad_document(store: Engine, ingestor: Ingestor) -> None:
    good = f.payload([f.commissioning(["G1"])])
    bad = json.dumps({"type": "EPCISDocument"}).encode()
    outcomes = ingestor.ingest_many([(good, MQTT, None), (bad, MQTT, None)])
    assert [o.accepted for o in outcomes] == [True, False]


def test_a_group_gives_the_state_and_results_of_one_by_one(
    store: Engine, ingestor: Ingestor, other_store: Engine
) -> None:
    """Group commit applies many documents with one statement per table; the final state
    and each document's result must be those of applying the documents one by one, in
    any order, with replays, duplicates and units packed before they were commissioned."""
    line = f.Line(units_per_case=2, cases_per_pallet=2)
    pallet, _, serials = line.pallet()
    documents = [
        *line.documents,
        [f.shipping([pallet])],
        [f.decommissioning(serials[:1])],
        [f.commissioning(["Z1"]), f.commissioning(["Z1"], lot="LOT2")],  # twice in one doc
        [f.commissioning([serials[1]], lot="LOT9")],  # a serial commissioned before
    ]
    shuffled = documents[:]
    random.Random(3).shuffle(shuffled)
    sequence = shuffled + documents  # the second half replays the first
    payloads = [(f.payload(d), MQTT, "t") for d in sequence]

    register_line(other_store, "site1", "line1")
    one_by_one = Ingestor(other_store, max_payload_bytes=ingestor.max_payload_bytes)
    expected = [one_by_one.ingest_payload(p, o, topic=t).result for p, o, t in payloads]
    grouped = [outcome.result for outcome in ingestor.ingest_many(payloads)]

    assert final_state(store) == final_state(other_store)
    # The same per document, except "parked": in a group, a packing that arrives before its
    # units' commissioning in the same group is applied at once instead of parked.
    assert [r and replace(r, parked=0) for r in grouped] == [
        r and replace(r, parked=0) for r in expected
    ]
    assert any(r and r.parked for r in expected)
    assert sum(r.alerts for r in grouped if r) == 2
    with read_transaction(store) as conn:
        details = sorted(conn.execute(select(alerts.c.detail)).scalars())
    assert details == [
        "serial already commissioned; no second unit created",
        "serial commissioned twice in one document; one unit kept",
    ]


def test_a_group_with_a_bad_event_time_falls_back_to_one_by_one(
    store: Engine, ingestor: Ingestor
) -> None:
    bad = f.commissioning(["T2"])
    bad["eventTime"] = "2025-02-30T08:00:00Z"  # the schema's pattern lets it through
    payloads = [
        (f.payload([f.commissioning(["T1"])]), MQTT, "t"),
        (f.payload([bad]), MQTT, "t"),
        (f.payload([f.commissioning(["T3"])]), MQTT, "t"),
    ]
    outcomes = ingestor.ingest_many(payloads)
    assert [o.accepted for o in outcomes] == [True, False, True]
    assert outcomes[1].reason is not None and "eventList[0].eventTime" in outcomes[1].reason
    assert set(final_state(store)["units"]) == {"T1", "T3"}


def test_events_naming_a_unit_are_found_before_and_after_its_commissioning(
    store: Engine, ingestor: Ingestor
) -> None:
    """A unit's EPC index rows are in unit_events once it is commissioned and in event_epcs
    (key text) for events stored before; queries and the trace read both."""
    case = f.sscc(4)
    ingest(ingestor, [f.packing(case, ["E1", "E2"])])  # parked: E1, E2 unknown yet
    ingest(ingestor, [f.commissioning(["E1", "E2", "E3"])])
    ingest(ingestor, [f.decommissioning(["E1"])])
    with read_transaction(store) as conn:
        assert conn.execute(select(func.count()).select_from(unit_events)).scalar() == 4
        trace = trace_unit(conn, UnitKey(f.GTIN, "E1"))
        assert trace is not None
        assert [e.biz_step for e in trace.events] == ["commissioning", "packing", "decommissioning"]

        def matching(**params: str) -> list[str]:
            page = run_query(conn, {k: [v] for k, v in params.items()}, per_page=50, after=None)
            return [e.get("bizStep", "") for e in page.events]

        assert sorted(matching(MATCH_epc=f.sgtin("E1"))) == [
            "commissioning",
            "decommissioning",
            "packing",
        ]
        assert matching(MATCH_epc=f"https://id.gs1.org/01/{f.GTIN}/21/E3") == ["commissioning"]
        assert len(matching(MATCH_epc="urn:epc:idpat:sgtin:0614141.107346.*")) == 3
        assert len(matching(MATCH_anyEPC="urn:epc:idpat:sgtin:0614141.*.*")) == 3
        assert matching(MATCH_epc="urn:epc:idpat:sgtin:0614142.*.*") == []
        assert matching(MATCH_parentID=f.sgtin("E1")) == []


def test_two_forms_of_one_unit_in_one_event_index_it_once(
    store: Engine, ingestor: Ingestor
) -> None:
    digital_link = f"https://id.gs1.org/01/{f.GTIN}/21/W1"
    commission = f.commissioning(["W1"])
    commission["epcList"].append(digital_link)
    packing = f.packing(f.sscc(9), ["W1"])
    packing["childEPCs"].append(digital_link)
    ingest(ingestor, [commission, packing])
    with read_transaction(store) as conn:
        assert conn.execute(select(func.count()).select_from(units)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(unit_events)).scalar() == 2
        trace = trace_unit(conn, UnitKey(f.GTIN, "W1"))
        assert trace is not None and [e.biz_step for e in trace.events] == [
            "commissioning",
            "packing",
        ]


def test_a_document_partly_stored_before_stores_the_rest(store: Engine, ingestor: Ingestor) -> None:
    """The events of a group go in with one all-or-nothing insert; when some were stored
    before, the others are still stored, under their own keys and with their own times."""
    first = f.commissioning(["P1"], time="2025-03-01T08:00:00Z")
    second = f.packing(f.sscc(7), ["P1"], time="2025-03-01T08:01:00.5+02:00")
    ingest(ingestor, [first])
    outcome = ingestor.ingest_payload(f.payload([first, second]), MQTT, topic="t")
    assert outcome.result is not None
    assert (outcome.result.stored, outcome.result.duplicates) == (1, 1)
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "P1"))
        assert trace is not None and [p.sscc for p in trace.parents] == [f.sscc(7)]
        at = datetime(2025, 3, 1, 6, 1, 0, 500_000, tzinfo=UTC)  # stored in UTC, exactly
        found = conn.execute(select(events.c.event_id).where(events.c.event_time == at)).all()
        assert [row.event_id for row in found] == [second["eventID"]]
        # Oldest first: 06:01 UTC before 08:00 UTC.
        assert [e.event_id for e in trace.events] == [second["eventID"], first["eventID"]]


def test_a_case_moved_between_pallets_within_one_group(store: Engine, ingestor: Ingestor) -> None:
    """Packing, unpacking and packing again in one group: the last packing wins (the
    parents of containers are written once per group)."""
    first, second = f.sscc(90, extension=1), f.sscc(91, extension=1)
    documents = [
        [f.commissioning(["M1"]), f.packing(f.sscc(9), ["M1"])],
        [f.packing(first, [f.sscc(9)], "2025-03-01T08:30:00Z")],
        [f.unpacking(first, [f.sscc(9)], "2025-03-01T08:40:00Z")],
        [f.packing(second, [f.sscc(9)], "2025-03-01T08:50:00Z")],
    ]
    outcomes = ingestor.ingest_many([(f.payload(d), MQTT, "t") for d in documents])
    assert all(outcome.accepted for outcome in outcomes)
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "M1"))
        assert trace is not None
        assert [p.sscc for p in trace.parents] == [f.sscc(9), second]
        assert container_tree(conn, first) is not None
        assert container_tree(conn, first).containers == []  # type: ignore[union-attr]


def test_a_pallet_emptied_in_the_group_that_packed_it(store: Engine, ingestor: Ingestor) -> None:
    pallet = f.sscc(92, extension=1)
    documents = [
        [f.commissioning(["M2"]), f.packing(f.sscc(10), ["M2"])],
        [f.packing(pallet, [f.sscc(10)], "2025-03-01T08:30:00Z")],
        [f.unpacking(pallet, [], "2025-03-01T08:40:00Z")],  # everything out
    ]
    outcomes = ingestor.ingest_many([(f.payload(d), MQTT, "t") for d in documents])
    assert all(outcome.accepted for outcome in outcomes)
    with read_transaction(store) as conn:
        trace = trace_unit(conn, UnitKey(f.GTIN, "M2"))
        assert trace is not None
        assert [p.sscc for p in trace.parents] == [f.sscc(10)]


def test_a_value_the_store_refuses_costs_only_its_own_document(
    store: Engine, ingestor: Ingestor
) -> None:
    """An eventID longer than the column (valid for the schema; PostgreSQL refuses it, SQLite
    keeps it): never an internal error, and the other document of the group still lands."""
    long_id = "urn:uuid:" + "a" * 600
    bad = f.commissioning(["R1"])
    bad["eventID"] = long_id
    outcomes = ingestor.ingest_many(
        [(f.payload([bad]), MQTT, "t"), (f.payload([f.commissioning(["R2"])]), MQTT, "t")]
    )
    assert outcomes[1].accepted
    if store.dialect.name == "postgresql":
        assert outcomes[0].reason is not None
        assert outcomes[0].reason.startswith("store refused a value: "), outcomes[0].reason
    else:
        assert outcomes[0].accepted
    with read_transaction(store) as conn:
        assert trace_unit(conn, UnitKey(f.GTIN, "R2")) is not None
