"""``/lines``: the line registry (which SGLNs each line may report). Reading: operator or
QA; registering and removing: admin, audited."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from server import lines as registry
from server.api.app_state import services_of
from server.api.deps import ReadConn, Reader, require
from server.auth import User
from server.errors import NotFound, RejectedDocument
from server.store import write_transaction

router = APIRouter(prefix="/lines", tags=["lines"])


class LineOut(BaseModel):
    site: str
    line: str
    locations: list[str]
    created_at: datetime


class LineIn(BaseModel):
    locations: list[str] = Field(min_length=1, max_length=registry.MAX_LOCATIONS)
    reason: str = Field(min_length=1, max_length=1000, description="why (audit trail)")


def _out(item: registry.Line) -> LineOut:
    return LineOut(
        site=item.site, line=item.line, locations=list(item.locations), created_at=item.created_at
    )


@router.get("")
def line_list(conn: ReadConn, _user: Reader) -> list[LineOut]:
    """Every registered line with its locations."""
    return [_out(item) for item in registry.list_lines(conn)]


@router.put("/{site}/{line}")
def line_register(
    request: Request,
    site: str,
    line: str,
    body: LineIn,
    user: User = Depends(require()),  # noqa: B008 (FastAPI's way)
) -> LineOut:
    """Register a line with exactly these locations (replacing its earlier ones)."""
    try:
        with write_transaction(services_of(request).engine) as conn:
            item = registry.register_line(
                conn,
                site,
                line,
                body.locations,
                actor=user.username,
                reason=body.reason,
                now=datetime.now(UTC),
            )
    except RejectedDocument as exc:
        raise HTTPException(422, exc.reason) from None
    return _out(item)


@router.delete("/{site}/{line}")
def line_remove(
    request: Request,
    site: str,
    line: str,
    reason: str,
    user: User = Depends(require()),  # noqa: B008
) -> dict[str, str]:
    """Remove a line: its events are refused from then on."""
    try:
        with write_transaction(services_of(request).engine) as conn:
            registry.remove_line(
                conn, site, line, actor=user.username, reason=reason, now=datetime.now(UTC)
            )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return {"removed": f"{site}/{line}"}
