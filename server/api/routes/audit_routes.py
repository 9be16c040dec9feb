"""Read-only views for QA: audit trail (and its chain check), alerts, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from server import audit
from server.api.deps import QaUser, ReadConn
from server.store.schema import alerts, dead_letters

router = APIRouter(tags=["audit"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=100_000_000)]


@router.get("/audit")
def audit_trail(
    conn: ReadConn,
    _user: QaUser,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_key: Annotated[str | None, Query(max_length=256)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[audit.AuditEntry]:
    """Who changed what, when (UTC), old and new values, and why. Read only."""
    return audit.entries(conn, entity=entity, entity_key=entity_key, limit=limit, offset=offset)


class ChainCheck(BaseModel):
    intact: bool
    first_broken_id: int | None


@router.get("/audit/verify")
def audit_verify(conn: ReadConn, _user: QaUser) -> ChainCheck:
    """Recompute the hash chain; names the first row that does not chain."""
    broken = audit.verify_chain(conn)
    return ChainCheck(intact=broken is None, first_broken_id=broken)


class Alert(BaseModel):
    id: int
    at: datetime
    kind: str
    subject: str
    event_id: str
    detail: str


@router.get("/alerts")
def alert_list(
    conn: ReadConn, _user: QaUser, limit: Limit = 100, offset: Offset = 0
) -> list[Alert]:
    """Duplicate commissioning, batch data conflicts: what ingest flagged."""
    rows = conn.execute(select(alerts).order_by(alerts.c.id).limit(limit).offset(offset))
    return [Alert(**row._mapping) for row in rows]


class DeadLetter(BaseModel):
    id: int
    received_at: datetime
    source: str
    topic: str | None
    reason: str
    size: int
    payload_preview: str


@router.get("/dead-letters")
def dead_letter_list(
    conn: ReadConn, _user: QaUser, limit: Limit = 100, offset: Offset = 0
) -> list[DeadLetter]:
    """Payloads that were refused, with the reason (first 512 bytes shown)."""
    rows = conn.execute(
        select(dead_letters).order_by(dead_letters.c.id).limit(limit).offset(offset)
    )
    return [
        DeadLetter(
            id=row.id,
            received_at=row.received_at,
            source=row.source,
            topic=row.topic,
            reason=row.reason,
            size=row.size,
            payload_preview=bytes(row.payload[:512]).decode("utf-8", "replace"),
        )
        for row in rows
    ]
