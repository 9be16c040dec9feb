"""JSON-LD codec: round trips, normalisations and error messages that name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import epcis
from tests.epcis.strategies import events


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T08:30:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": ["urn:epc:id:sgtin:0950600.013435.A1"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "readPoint": {"id": "urn:epc:id:sgln:0950600.00001.0"},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


@given(events)
def test_encode_decode_round_trip(event: epcis.Event) -> None:
    doc = epcis.encode_document([event], creation_date=datetime(2024, 1, 1, tzinfo=UTC))
    assert epcis.decode_document(json.loads(json.dumps(doc))) == [event]
    assert epcis.validate_document(doc) == []


def test_cbv_urn_and_web_uri_forms_decode_to_the_enum_and_encode_bare() -> None:
    event = epcis.decode_event(
        _event(
            bizStep="urn:epcglobal:cbv:bizstep:shipping",
            disposition="https://ref.gs1.org/cbv/Disp-in_transit",
            bizTransactionList=[
                {"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:epcglobal:cbv:bt:1:2"}
            ],
        )
    )
    assert isinstance(event, epcis.ObjectEvent)
    assert event.biz_step is epcis.BizStep.SHIPPING
    assert event.disposition is epcis.Disposition.IN_TRANSIT
    encoded = epcis.encode_event(event)
    assert (encoded["bizStep"], encoded["disposition"]) == ("shipping", "in_transit")
    assert encoded["bizTransactionList"] == [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:1:2"}
    ]


def test_private_vocabulary_uris_are_kept() -> None:
    event = epcis.decode_event(_event(bizStep="https://example.com/bizstep/labelling"))
    assert isinstance(event, epcis.ObjectEvent)
    assert event.biz_step == "https://example.com/bizstep/labelling"
    assert epcis.encode_event(event)["bizStep"] == "https://example.com/bizstep/labelling"


def test_event_time_keeps_its_offset() -> None:
    event = epcis.decode_event(_event())
    assert event.event_time == datetime(2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    assert epcis.encode_event(event)["eventTime"] == "2024-05-01T08:30:00.000+02:00"
    micro = epcis.decode_event(_event(eventTime="2024-05-01T06:30:00.123456Z"))
    assert epcis.encode_event(micro)["eventTime"] == "2024-05-01T06:30:00.123456Z"


def test_unknown_fields_survive_in_extensions() -> None:
    raw = _event(**{"ex:shift": {"ex:team": "B"}, "certificationInfo": "https://cert.example/1"})
    event = epcis.decode_event(raw)
    assert event.extensions == {
        "ex:shift": {"ex:team": "B"},
        "certificationInfo": "https://cert.example/1",
    }
    assert epcis.encode_event(event) == raw


def test_document_header_survives() -> None:
    doc = epcis.encode_document(
        [epcis.decode_event(_event())], creation_date=datetime(2024, 1, 1, tzinfo=UTC)
    )
    doc["sender"] = "urn:epc:id:sgln:0950600.00001.0"
    parsed = epcis.parse_document(doc)
    assert parsed.header == {"sender": "urn:epc:id:sgln:0950600.00001.0"}
    assert parsed.to_json() == doc
    assert parsed.namespaces == {"serialtrace": "urn:serialtrace:epcis:"}


def test_default_document_envelope() -> None:
    doc = epcis.encode_document([], creation_date=datetime(2024, 1, 1, tzinfo=UTC))
    assert doc == {
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"serialtrace": "urn:serialtrace:epcis:"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00.000Z",
        "epcisBody": {"eventList": []},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_event(type=None), "type: required field is missing"),
        (
            _event(type="MoveEvent"),
            "type: expected one of 'ObjectEvent', 'AggregationEvent', "
            "'AssociationEvent', 'TransactionEvent', 'TransformationEvent', got 'MoveEvent'",
        ),
        (_event(eventTime=None), "eventTime: required field is missing"),
        (
            _event(eventTime="2024-05-01T08:30:00"),
            "eventTime: expected an RFC 3339 date-time such "
            "as '2024-05-01T08:30:00.000Z', got '2024-05-01T08:30:00'",
        ),
        (
            _event(eventTime="2024-02-30T08:30:00Z"),
            "eventTime: expected a real calendar date-time, got '2024-02-30T08:30:00Z'",
        ),
        (
            _event(eventTimeZoneOffset="+2"),
            "eventTimeZoneOffset: expected '+hh:mm' or '-hh:mm', got '+2'",
        ),
        (_event(action="MOVE"), "action: expected one of 'ADD', 'OBSERVE', 'DELETE', got 'MOVE'"),
        (_event(action=None), "action: required field is missing"),
        (
            _event(epcList="urn:epc:id:sgtin:0950600.013435.A1"),
            "epcList: expected a list of strings, got 'urn:epc:id:sgtin:0950600.013435.A1'",
        ),
        (_event(epcList=["urn:x:1", 7]), "epcList[1]: expected a non-empty string, got 7"),
        (
            _event(bizStep="shippin"),
            "bizStep: expected a CBV bizStep such as 'accepting' or a URI, got 'shippin'",
        ),
        (
            _event(bizStep="urn:epcglobal:cbv:bizstep:flying"),
            "bizStep: expected a CBV bizStep, got unknown term 'urn:epcglobal:cbv:bizstep:flying'",
        ),
        (_event(readPoint={"ident": "x"}), "readPoint.id: required field is missing"),
        (
            _event(readPoint="urn:epc:id:sgln:0950600.00001.0"),
            "readPoint: expected a JSON object, got 'urn:epc:id:sgln:0950600.00001.0'",
        ),
        (
            _event(quantityList=[{"epcClass": "urn:x:1", "quantity": "7"}]),
            "quantityList[0].quantity: expected a number, got '7'",
        ),
        (
            _event(quantityList=[{"epcClass": "urn:x:1", "unit": "KGM"}]),
            "quantityList[0]: unexpected field(s) ['unit']",
        ),
        (
            _event(sourceList=[{"source": "urn:x:1"}]),
            "sourceList[0].type: required field is missing",
        ),
        (
            _event(sourceList=[{"source": "urn:x:1", "type": "owner"}]),
            "sourceList[0].type: expected a "
            "CBV source/destination type such as 'owning_party' or a URI, got 'owner'",
        ),
        (
            _event(ilmd=["cbvmda:lotNumber"]),
            "ilmd: expected a JSON object, got ['cbvmda:lotNumber']",
        ),
        (
            _event(errorDeclaration={"reason": "did_not_occur"}),
            "errorDeclaration.declarationTime: required field is missing",
        ),
        (
            {
                "type": "TransactionEvent",
                "eventTime": "2024-05-01T08:30:00Z",
                "eventTimeZoneOffset": "+00:00",
                "action": "ADD",
            },
            "bizTransactionList: required field is missing",
        ),
        ("ObjectEvent", "event: expected a JSON object, got 'ObjectEvent'"),
    ],
)
def test_decode_errors_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(epcis.EventFieldError) as caught:
        epcis.decode_event(raw)
    assert str(caught.value) == message


def test_document_errors_carry_the_event_path() -> None:
    doc = epcis.encode_document([], creation_date=datetime(2024, 1, 1, tzinfo=UTC))
    doc["epcisBody"]["eventList"] = [_event(), _event(action="MOVE")]
    with pytest.raises(epcis.EventFieldError) as caught:
        epcis.decode_document(doc)
    assert str(caught.value) == (
        "epcisBody.eventList[1].action: expected one of 'ADD', 'OBSERVE', 'DELETE', got 'MOVE'"
    )
    assert caught.value.field == "epcisBody.eventList[1].action"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "EPCISDocument"}, "@context: required field is missing"),
        (
            {
                "type": "EPCISDocument",
                "@context": "x",
                "schemaVersion": "2.0",
                "creationDate": "2024-01-01T00:00:00Z",
                "epcisBody": {},
            },
            "epcisBody.eventList: required field is missing",
        ),
        (
            {
                "type": "EPCISDocument",
                "@context": "x",
                "schemaVersion": "2.0",
                "creationDate": "2024-01-01T00:00:00Z",
                "epcisBody": {"eventList": {}},
            },
            "epcisBody.eventList: expected a list, got {}",
        ),
        ([], "document: expected a JSON object, got []"),
    ],
)
def test_document_envelope_errors(doc: Any, message: str) -> None:
    with pytest.raises(epcis.EventFieldError) as caught:
        epcis.parse_document(doc)
    assert str(caught.value) == message


def test_naive_datetimes_are_refused_when_encoding() -> None:
    event = epcis.decode_event(_event())
    naive = type(event)(
        **{
            **{f: getattr(event, f) for f in event.__dataclass_fields__},
            "event_time": datetime(2024, 1, 1),
        }
    )
    with pytest.raises(ValueError, match="expected a timezone-aware datetime"):
        epcis.encode_event(naive)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
_fields = st.sampled_from(
    ["type", "eventTime", "eventTimeZoneOffset", "epcList", "action", "bizStep", "readPoint",
     "quantityList", "sourceList", "bizTransactionList", "errorDeclaration", "ilmd", "parentID",
     "persistentDisposition", "childEPCs", "eventID"]
)  # fmt: skip


@given(st.dictionaries(_fields, _json), st.sampled_from(["ObjectEvent", "AggregationEvent",
       "TransactionEvent", "TransformationEvent", "AssociationEvent"]))  # fmt: skip
def test_hostile_events_raise_only_event_field_errors(raw: dict[str, Any], event_type: str) -> None:
    raw = {**_event(), "type": event_type, **raw}
    try:
        event = epcis.decode_event(raw)
    except epcis.EventFieldError:
        return
    epcis.encode_event(event)
    epcis.event_hash(raw)
