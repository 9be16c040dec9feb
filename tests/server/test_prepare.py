"""The store-free half of applying a document (what the MQTT receiver process prepares)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import epcis
from server.identifiers import UnitKey, canonical
from server.ingest.prepare import (
    Commissioning,
    Contents,
    Origin,
    contents_of,
    prepare_document,
    prepare_event,
)
from tests.server import factory as f

MQTT = Origin("mqtt", "site1", "line2")


def unit(serial: str) -> UnitKey:
    return UnitKey(f.GTIN, serial)


def test_a_commissioning_event_names_its_lot_expiry_and_units() -> None:
    event = f.commissioning(["A1", "A2"], lot="L7", expiry="2027-05-31")
    event["epcList"].insert(1, f.sscc_uri(f.sscc(5)))  # not a unit: left out, indexed as EPC
    prepared = prepare_event(0, event, MQTT)
    assert prepared.commissioning == Commissioning(
        "L7", "2027-05-31", "active", [unit("A1"), unit("A2")]
    )
    assert prepared.unit_refs == [("epc", [unit("A1"), unit("A2")])]
    assert prepared.epc_refs == [(canonical(f.sscc_uri(f.sscc(5))), "epc")]


def test_the_row_is_the_events_columns_from_the_event_and_its_origin() -> None:
    event = f.packing(f.sscc(1), ["A1"])
    prepared = prepare_event(0, event, MQTT)
    assert prepared.error is None and prepared.commissioning is None
    assert prepared.row == {
        "event_id": event["eventID"],
        "event_type": "AggregationEvent",
        "action": "ADD",
        "event_time": datetime(2025, 3, 1, 8, 1, tzinfo=UTC),
        "biz_step": "packing",
        "disposition": "in_progress",
        "read_point": f.READ_POINT,
        "biz_location": None,
        "site": "site1",
        "line": "line2",
        "source": "mqtt",
    }
    assert prepared.unit_refs == [("child", [unit("A1")])]
    assert prepared.epc_refs == [(canonical(f.sscc_uri(f.sscc(1))), "parent")]
    assert json.loads(prepared.text) == event


def test_over_http_the_site_and_line_come_from_the_read_point() -> None:
    prepared = prepare_event(0, f.packing(f.sscc(1), ["A1"]), Origin("http"))
    assert prepared.row is not None
    assert (prepared.row["site"], prepared.row["line"], prepared.row["source"]) == (
        "0614141.07346",
        "1",
        "http",
    )


def test_an_event_without_an_id_gets_the_event_hash() -> None:
    event = f.commissioning(["A1"])
    del event["eventID"]
    prepared = prepare_event(0, event, MQTT)
    assert prepared.event_id == epcis.event_hash(event)
    assert prepared.body["eventID"] == prepared.event_id
    assert "eventID" not in event  # the caller's event is left as it was


def test_an_unreadable_event_time_is_an_error_named_by_its_place() -> None:
    event = {**f.commissioning(["A1"]), "eventTime": "yesterday"}
    prepared = prepare_event(3, event, MQTT)
    assert prepared.row is None
    assert prepared.error is not None and "eventList[3].eventTime" in prepared.error


def test_a_documents_extra_context_goes_into_each_body() -> None:
    document = f.document([f.commissioning(["A1"]), f.packing(f.sscc(1), ["A1"])])
    document["@context"] = [*f.CONTEXT, {"ex": "https://example.com/ns#"}]
    prepared = prepare_document(document, MQTT)
    assert [event.body["@context"] for event in prepared.events] == [document["@context"]] * 2
    plain = prepare_document(f.document([f.commissioning(["A2"])]), MQTT)
    assert "@context" not in plain.events[0].body


def test_classes_and_transformation_lists_are_indexed_by_role() -> None:
    prepared = prepare_event(0, f.transformation(["RAW1"]), MQTT)
    roles = sorted(role for _, role in prepared.epc_refs)
    assert roles == ["inputClass", "outputClass"]
    assert prepared.unit_refs == [] and prepared.commissioning is None


def test_a_prepared_document_survives_the_pipe() -> None:
    """What the receiver pickles is what the writer applies."""
    document = f.document([f.commissioning(["A1", "A2"]), f.packing(f.sscc(1), ["A1", "A2"])])
    prepared = prepare_document(document, MQTT)
    assert pickle.loads(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)) == prepared


def test_packing_names_its_parent_and_its_units_and_cases() -> None:
    case, pallet = f.sscc(1), f.sscc(2)
    cases = prepare_event(0, f.packing(case, ["A1", "A2"]), MQTT).contents
    assert cases == Contents(case, f.sscc_uri(case), [unit("A1"), unit("A2")], [], True)
    pallets = contents_of(f.packing(pallet, [case]))
    assert pallets == Contents(pallet, f.sscc_uri(pallet), [], [(case, f.sscc_uri(case))], False)


def test_a_malformed_sgtin_child_still_makes_the_parent_a_case() -> None:
    event = f.packing(f.sscc(1), [])
    event["childEPCs"] = ["urn:epc:id:sgtin:not-a-unit"]
    assert contents_of(event) == Contents(f.sscc(1), f.sscc_uri(f.sscc(1)), [], [], True)


def test_an_object_event_names_the_cases_in_its_epc_list() -> None:
    shipped = contents_of(f.shipping([f.sscc(3)]))
    assert shipped == Contents(None, None, [], [(f.sscc(3), f.sscc_uri(f.sscc(3)))], False)
    assert contents_of(f.transformation(["RAW1"])) is None
