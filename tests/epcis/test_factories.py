"""The events serialtrace emits: shape, schema validity, stable eventID."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

import epcis
from epcis.factories import ILMD_EXPIRY, ILMD_LOT, REASON_KEY

CET = timezone(timedelta(hours=1))
T = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=CET)
UNIT = "urn:epc:id:sgtin:0950600.013435.A1B2C3"
UNIT2 = "urn:epc:id:sgtin:0950600.013435.Z9Y8X7"
CASE = "urn:epc:id:sscc:0950600.0000000001"
SITE = "urn:epc:id:sgln:0950600.00001.0"
LINE = "urn:epc:id:sgln:0950600.00001.L1"


def _all() -> dict[str, epcis.Event]:
    commissioned = epcis.commissioning_event(
        [UNIT, UNIT2],
        event_time=T,
        read_point=LINE,
        biz_location=SITE,
        lot="LOT1",
        expiry=date(2028, 11, 30),
    )
    return {
        "commissioning": commissioned,
        "commissioning without ILMD": epcis.commissioning_event(
            [UNIT], event_time=T, read_point=LINE, biz_location=SITE
        ),
        "packing": epcis.packing_event(CASE, [UNIT, UNIT2], event_time=T, read_point=LINE),
        "unpacking all": epcis.unpacking_event(CASE, event_time=T, read_point=LINE),
        "unpacking one": epcis.unpacking_event(CASE, [UNIT], event_time=T, read_point=LINE),
        "shipping": epcis.shipping_event(
            [CASE],
            event_time=T,
            read_point=SITE,
            sources=[epcis.Source(SITE, epcis.SourceDestType.OWNING_PARTY)],
            destinations=[
                epcis.Destination("urn:epc:id:sgln:4012345.00001.0", epcis.SourceDestType.LOCATION)
            ],
            biz_transactions=[
                epcis.BizTransaction(
                    "urn:epcglobal:cbv:bt:0950600000019:DESADV-7", epcis.BizTransactionType.DESADV
                )
            ],
        ),
        "decommissioning": epcis.decommissioning_event(
            [UNIT], event_time=T, read_point=LINE, reason="QA sample"
        ),
        "destroying": epcis.destroying_event([UNIT], event_time=T, read_point=LINE),
        "inspecting": epcis.inspecting_event(
            [UNIT], event_time=T, read_point=LINE, disposition=epcis.Disposition.CONFORMANT
        ),
        "transformation": epcis.transformation_event(
            [epcis.QuantityElement("urn:epc:class:lgtin:0950600.013435.BULK7", 12.5, "KGM")],
            [epcis.QuantityElement("urn:epc:class:lgtin:0950600.013435.LOT1", 500)],
            event_time=T,
            read_point=LINE,
            output_epcs=[UNIT],
            ilmd={ILMD_LOT: "LOT1", ILMD_EXPIRY: "2028-11-30"},
        ),
        "error declaration": epcis.error_declaration(
            commissioned,
            declaration_time=datetime(2024, 5, 2, tzinfo=UTC),
            corrective_event_ids=["ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"],
        ),
    }


@pytest.mark.parametrize("name", list(_all()))
def test_every_factory_event_validates_and_round_trips(name: str) -> None:
    event = _all()[name]
    doc = epcis.encode_document([event], creation_date=T)
    assert epcis.validate_document(doc) == []
    assert epcis.decode_document(doc) == [event]
    assert event.event_id is not None
    assert event.event_id == epcis.event_hash(event, namespaces=epcis.PROJECT_NAMESPACES)


def test_event_ids_are_stable_and_distinct() -> None:
    first, second = _all(), _all()
    assert {k: e.event_id for k, e in first.items()} == {k: e.event_id for k, e in second.items()}
    ids = [e.event_id for k, e in first.items() if k != "error declaration"]
    assert len(set(ids)) == len(ids)


def test_commissioning_event_fields() -> None:
    event = _all()["commissioning"]
    assert isinstance(event, epcis.ObjectEvent)
    assert event.event_time == datetime(2024, 5, 1, 8, 30, 15, 123000, tzinfo=CET)  # ms only
    assert event.event_time_zone_offset == "+01:00"
    assert event.action is epcis.Action.ADD
    assert event.biz_step is epcis.BizStep.COMMISSIONING
    assert event.disposition is epcis.Disposition.ACTIVE
    assert event.ilmd == {"cbvmda:lotNumber": "LOT1", "cbvmda:itemExpirationDate": "2028-11-30"}
    assert epcis.encode_event(event)["eventTime"] == "2024-05-01T08:30:15.123+01:00"


def test_packing_and_unpacking() -> None:
    packing, unpacking = _all()["packing"], _all()["unpacking all"]
    assert isinstance(packing, epcis.AggregationEvent)
    assert (packing.action, packing.biz_step, packing.disposition) == (
        epcis.Action.ADD,
        epcis.BizStep.PACKING,
        epcis.Disposition.IN_PROGRESS,
    )
    assert isinstance(unpacking, epcis.AggregationEvent)
    assert (unpacking.action, unpacking.biz_step, unpacking.child_epcs) == (
        epcis.Action.DELETE,
        epcis.BizStep.UNPACKING,
        (),
    )


def test_retiring_events() -> None:
    decommissioned, destroyed = _all()["decommissioning"], _all()["destroying"]
    assert isinstance(decommissioned, epcis.ObjectEvent)
    assert decommissioned.disposition is epcis.Disposition.INACTIVE
    assert decommissioned.extensions == {REASON_KEY: "QA sample"}
    assert isinstance(destroyed, epcis.ObjectEvent)
    assert (destroyed.action, destroyed.disposition) == (
        epcis.Action.DELETE,
        epcis.Disposition.DESTROYED,
    )


def test_error_declaration_keeps_the_declared_events_id() -> None:
    declared = _all()["error declaration"]
    assert declared.event_id == _all()["commissioning"].event_id
    assert declared.error_declaration is not None
    assert declared.error_declaration.reason is epcis.ErrorReason.INCORRECT_DATA


def test_naive_event_time_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^event_time: expected a timezone-aware datetime"):
        epcis.packing_event(CASE, [UNIT], event_time=datetime(2024, 1, 1), read_point=LINE)
