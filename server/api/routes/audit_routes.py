"""Read-only views for QA: audit trail (and its check against the signed checkpoints),
alerts; and a checkpoint on demand (dead letters: see ``dead_letter_routes``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel
from sqlalchemy import select

from server import audit
from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn, require
from server.auth import Role, User
from server.store.schema import alerts

router = APIRouter(tags=["audit"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=100_000_000)]


@router.get("/audit")
def audit_trail(
    conn: ReadConn,
    _user: QaUser,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_key: Annotated[str | None, Query(max_length=256)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[audit.AuditEntry]:
    """Who changed what, when (UTC), old and new values, and why. Read only."""
    return audit.entries(
        conn, entity=entity, entity_key=entity_key, action=action, limit=limit, offset=offset
    )


@router.get("/audit/verify")
def audit_verify(request: Request, conn: ReadConn, _user: QaUser) -> audit.AuditVerification:
    """Recompute the hash chain and check it against the signed checkpoints (the file
    outside the database and those in the trail), and the signatures and batch status
    against the trail. ``intact`` only when nothing is wrong; each problem names its kind
    (rewritten, broken_link, rechained, deleted, truncated, inserted, checkpoint_invalid,
    file_invalid, record_mismatch) and ``first_bad_row`` the first audit row concerned."""
    return audit.verify(conn, services_of(request).anchor)


@router.post(
    "/audit/checkpoints",
    status_code=201,
    responses={409: {"description": "no audit key configured"}},
)
def audit_checkpoint(
    request: Request, _user: Annotated[User, Depends(require(Role.QA))]
) -> audit.Checkpoint | None:
    """Write a signed checkpoint into the trail and the checkpoint file now (the server
    also does so every ``audit_checkpoint_seconds``)."""
    anchor = services_of(request).anchor
    if anchor is None or not anchor.can_sign:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "audit: no audit key configured (audit_key_file or SERIALTRACE_SERVER__AUDIT_KEY)",
        )
    return anchor.chain_checkpoint(force=True)


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
