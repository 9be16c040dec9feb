"""Complaint intake: the code a customer gives resolved to unit, batch and shipment, and
the complaint recorded (audited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

import gs1
from server import audit
from server.identifiers import unit_from_code
from server.qa.complaints.model import ComplaintStatus, Identified, Intake
from server.qa.genealogy import chain_up, sscc_of
from server.qa.tables import qa_complaints
from server.store.schema import batches, containers, unit_is, units


def identify(conn: Connection, code: str | None) -> Identified:
    """Resolve any code form: unit (GTIN + serial), SSCC, or GTIN + lot; unknown → empty."""
    if not code:
        return Identified()
    unit = unit_from_code(code)
    if unit is not None:
        row = conn.execute(
            select(units.c.batch_id, units.c.parent_id, units.c.shipment_id).where(unit_is(unit))
        ).first()
        if row is None:
            return Identified(unit.gtin, unit.serial)
        shipment = row.shipment_id
        if shipment is None:
            shipment = next(
                (
                    link["shipment_id"]
                    for link in chain_up(conn, row.parent_id)
                    if link["shipment_id"]
                ),
                None,
            )
        return Identified(unit.gtin, unit.serial, row.batch_id, shipment)
    sscc = sscc_of(code)
    if sscc is not None:
        row = conn.execute(
            select(containers.c.id, containers.c.parent_id, containers.c.shipment_id).where(
                containers.c.sscc == sscc
            )
        ).first()
        if row is None:
            return Identified()
        shipment = row.shipment_id or next(
            (link["shipment_id"] for link in chain_up(conn, row.parent_id) if link["shipment_id"]),
            None,
        )
        batch_id = conn.execute(
            select(units.c.batch_id).where(units.c.parent_id == row.id).limit(1)
        ).scalar()
        return Identified(None, None, batch_id, shipment)
    try:
        parsed = gs1.parse(code)
    except gs1.Gs1Error:
        return Identified()
    gtin = getattr(parsed, "gtin", None)
    lot = getattr(parsed, "lot", None)
    if gtin is None or not lot:
        return Identified()
    gtin_value = str(getattr(gtin, "value", gtin))
    batch_id = conn.execute(
        select(batches.c.id).where(batches.c.gtin == gtin_value, batches.c.lot == str(lot))
    ).scalar()
    return Identified(gtin_value, None, batch_id, None)


def receive(conn: Connection, intake: Intake, *, actor: str, now: datetime) -> int:
    """Record a complaint; returns its id (an existing one for a known ``external_ref``)."""
    if intake.external_ref is not None:
        existing = conn.execute(
            select(qa_complaints.c.id).where(qa_complaints.c.external_ref == intake.external_ref)
        ).scalar()
        if existing is not None:
            return int(existing)
    found = identify(conn, intake.code)
    received_at = intake.received_at or now
    values = {
        "channel": intake.channel.value,
        "received_at": received_at,
        "reporter": intake.reporter,
        "contact": intake.contact,
        "description": intake.description,
        "category": intake.category,
        "code": intake.code,
        "gtin": found.gtin,
        "serial": found.serial,
        "batch_id": found.batch_id,
        "shipment_id": found.shipment_id,
        "status": ComplaintStatus.RECEIVED.value,
        "external_ref": intake.external_ref,
    }
    complaint_id = int(
        conn.execute(qa_complaints.insert().returning(qa_complaints.c.id), values).scalar_one()
    )
    audit.append(
        conn,
        actor=actor,
        action="complaint_received",
        entity="complaint",
        entity_key=str(complaint_id),
        old_value=None,
        new_value={
            **{k: v for k, v in values.items() if k != "received_at"},
            "received_at": received_at.isoformat(),
        },
        reason=f"complaint via {intake.channel.value}",
        now=now,
    )
    return complaint_id
