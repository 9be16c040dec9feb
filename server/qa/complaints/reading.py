"""Reading complaints: one with its notes and SLA clocks, or a page of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from server.qa.complaints.model import Complaint, ComplaintStatus, Note
from server.qa.complaints.workflow import complaint_row
from server.qa.sla import SlaPolicy, resolution_clock, response_clock
from server.qa.tables import qa_complaint_notes, qa_complaints
from server.store.schema import batches


def get_complaint(
    conn: Connection, complaint_id: int, policy: SlaPolicy, now: datetime
) -> Complaint:
    return _complaint(conn, complaint_row(conn, complaint_id), policy, now, with_notes=True)


def list_complaints(
    conn: Connection,
    policy: SlaPolicy,
    now: datetime,
    *,
    status: ComplaintStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Complaint]:
    query = select(qa_complaints).order_by(
        qa_complaints.c.received_at.desc(), qa_complaints.c.id.desc()
    )
    if status is not None:
        query = query.where(qa_complaints.c.status == status.value)
    rows = conn.execute(query.limit(limit).offset(offset)).all()
    return [_complaint(conn, row, policy, now, with_notes=False) for row in rows]


def _complaint(
    conn: Connection, row: Any, policy: SlaPolicy, now: datetime, *, with_notes: bool
) -> Complaint:
    lot = None
    if row.batch_id is not None:
        batch = conn.execute(
            select(batches.c.gtin, batches.c.lot).where(batches.c.id == row.batch_id)
        ).first()
        if batch is not None:
            lot = batch.lot
    notes = []
    if with_notes:
        notes = [
            Note(
                id=n.id,
                at=n.at,
                author=n.author,
                text=n.text,
                filename=n.filename,
                content_type=n.content_type,
                size=n.size,
            )
            for n in conn.execute(
                select(
                    qa_complaint_notes.c.id,
                    qa_complaint_notes.c.at,
                    qa_complaint_notes.c.author,
                    qa_complaint_notes.c.text,
                    qa_complaint_notes.c.filename,
                    qa_complaint_notes.c.content_type,
                    func.length(qa_complaint_notes.c.content).label("size"),
                )
                .where(qa_complaint_notes.c.complaint_id == row.id)
                .order_by(qa_complaint_notes.c.id)
            )
        ]
    return Complaint(
        id=row.id,
        channel=row.channel,
        received_at=row.received_at,
        reporter=row.reporter,
        contact=row.contact,
        description=row.description,
        category=row.category,
        code=row.code,
        gtin=row.gtin,
        serial=row.serial,
        lot=lot,
        shipment_id=row.shipment_id,
        status=row.status,
        owner=row.owner,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        satisfaction=row.satisfaction,
        external_ref=row.external_ref,
        response_sla=response_clock(policy, row.received_at, row.acknowledged_at, now),
        resolution_sla=resolution_clock(policy, row.received_at, row.resolved_at, now),
        notes=notes,
    )
