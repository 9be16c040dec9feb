"""``/dead-letters``: payloads ingest refused: list (QA), replay and purge (QA, audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from server import dead_letters
from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn
from server.errors import NotFound, RejectedDocument
from server.store import write_transaction

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


class DeadLetter(BaseModel):
    id: int
    received_at: datetime
    source: str
    topic: str | None
    kind: str
    reason: str
    size: int
    replayable: bool
    payload_preview: str


@router.get("")
def dead_letter_list(
    conn: ReadConn,
    _user: QaUser,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    source: Annotated[str | None, Query(max_length=16)] = None,
    topic: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> list[DeadLetter]:
    """Refused payloads with kind and reason (first 512 bytes shown), oldest first."""
    rows = dead_letters.list_dead_letters(
        conn, kind=kind, source=source, topic=topic, limit=limit, offset=offset
    )
    return [
        DeadLetter(
            id=row.id,
            received_at=row.received_at,
            source=row.source,
            topic=row.topic,
            kind=row.kind,
            reason=row.reason,
            size=row.size,
            replayable=row.complete,
            payload_preview=row.payload[:512].decode("utf-8", "replace"),
        )
        for row in rows
    ]


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="why (audit trail)")


@router.post("/{dead_letter_id}/replay")
def dead_letter_replay(
    request: Request, dead_letter_id: int, body: Reason, user: QaUser
) -> dict[str, Any]:
    """Ingest the payload again as it came; applied: the dead letter goes. Audited."""
    ingestor = services_of(request).ingestor
    try:
        outcome = ingestor.replay(dead_letter_id, actor=user.username, reason=body.reason)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except RejectedDocument as exc:
        raise HTTPException(409, exc.reason) from None
    result = outcome.result
    return {
        "id": dead_letter_id,
        "applied": outcome.accepted,
        "reason": outcome.reason,
        "stored": result.stored if result else 0,
    }


class Purge(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="why (audit trail)")
    kind: str | None = Field(default=None, max_length=32)
    source: str | None = Field(default=None, max_length=16)
    before: datetime | None = None
    ids: list[int] | None = Field(default=None, max_length=10_000)
    everything: bool = False


@router.post("/purge")
def dead_letter_purge(request: Request, body: Purge, user: QaUser) -> dict[str, int]:
    """Delete the dead letters matching every filter given (or ``everything``). Audited."""
    before = body.before
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    try:
        with write_transaction(services_of(request).engine) as conn:
            removed = dead_letters.purge(
                conn,
                actor=user.username,
                reason=body.reason,
                now=datetime.now(UTC),
                kind=body.kind,
                source=body.source,
                before=before,
                ids=body.ids,
                everything=body.everything,
            )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"removed": removed}
