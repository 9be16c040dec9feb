"""``POST /shipments``: ship SSCCs to a destination; produces the shipping event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

import epcis
import gs1
from server import audit
from server.api.app_state import services_of
from server.api.deps import Shipper
from server.api.routes.qa_common import refuse_unshippable
from server.ingest.apply import STANDARD_CONTEXT, Origin, apply_document
from server.ingest.validation import check_document
from server.store import read_transaction, write_transaction
from server.store.schema import containers

router = APIRouter(tags=["shipments"])

Uri = Annotated[str, Field(min_length=3, max_length=512, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")]


class ShipmentRequest(BaseModel):
    ssccs: Annotated[
        list[Annotated[str, Field(max_length=18)]], Field(min_length=1, max_length=1000)
    ]
    destination: Uri = Field(description="ship-to location, e.g. urn:epc:id:sgln:…")
    customer: Uri | None = Field(default=None, description="owning party, e.g. urn:epc:id:pgln:…")
    biz_transaction: Uri | None = Field(default=None, description="despatch advice / PO URI")
    read_point: Uri | None = None
    reason: Annotated[str, Field(max_length=2000)] = "shipment"


class ShipmentCreated(BaseModel):
    event_id: str
    ssccs: list[str]
    stored: bool


@router.post(
    "/shipments", status_code=201, responses={404: {"description": "an SSCC is not on record"}}
)
def create_shipment(body: ShipmentRequest, request: Request, user: Shipper) -> ShipmentCreated:
    services = services_of(request)
    values = []
    for text in body.ssccs:
        try:
            values.append(gs1.Sscc.parse(text).value)
        except gs1.Gs1Error as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"ssccs: {exc}") from exc
    with read_transaction(services.engine) as conn:
        known = dict(
            conn.execute(
                select(containers.c.sscc, containers.c.epc).where(containers.c.sscc.in_(values))
            ).all()
        )
    missing = [value for value in values if value not in known]
    if missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"ssccs: {missing[0]} is not on record")
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [known[value] for value in values],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "destinationList": [{"type": "location", "destination": body.destination}],
    }
    if body.customer is not None:
        event["destinationList"].append({"type": "owning_party", "destination": body.customer})
    if body.biz_transaction is not None:
        event["bizTransactionList"] = [{"type": "desadv", "bizTransaction": body.biz_transaction}]
    if body.read_point is not None:
        event["readPoint"] = {"id": body.read_point}
    event["eventID"] = epcis.event_hash(event)
    document = {
        "@context": [STANDARD_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": event["eventTime"],
        "epcisBody": {"eventList": [event]},
    }
    checked = check_document(document)
    with write_transaction(services.engine) as conn:
        refuse_unshippable(conn, values)  # QA release: only released batches ship
        result = apply_document(conn, checked, Origin("http"), now=now)
        audit.append(
            conn,
            actor=user.username,
            action="ship",
            entity="shipment",
            entity_key=event["eventID"],
            old_value=None,
            new_value={
                "ssccs": values,
                "destination": body.destination,
                "customer": body.customer,
                "bizTransaction": body.biz_transaction,
            },
            reason=body.reason,
            now=now,
        )
    return ShipmentCreated(event_id=event["eventID"], ssccs=values, stored=result.stored == 1)
