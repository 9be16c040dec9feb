"""``/delivery``: each line's server-confirmed delivery state (operator or QA).

Per line: the contiguous sequence number (the server holds every event up to it), the
highest seen, events received and duplicates, the open gaps (range, since when, alerted),
and the last batch closes with whether each is *closed on the server* (every event up to
the close event is stored). See server/delivery.py and docs/mqtt.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException

from epcis import TopicError, topics
from server import delivery
from server.api.deps import ReadConn, Reader

router = APIRouter(prefix="/delivery", tags=["delivery"])


@router.get("")
def delivery_list(conn: ReadConn, _user: Reader) -> list[dict[str, Any]]:
    """Every line's delivery state."""
    now = datetime.now(UTC)
    return [state.as_dict(now) for state in delivery.line_states(conn)]


@router.get("/{site}/{line}", responses={404: {"description": "no event of that line yet"}})
def delivery_line(site: str, line: str, conn: ReadConn, _user: Reader) -> dict[str, Any]:
    """One line's delivery state, with its last 100 batch closes."""
    try:
        topics.validate_id(site, "site")
        topics.validate_id(line, "line")
    except TopicError as exc:
        raise HTTPException(422, str(exc)) from None
    states = delivery.line_states(conn, site, line, closes=100)
    if not states:
        raise HTTPException(404, f"delivery: no event of line {site}/{line} stored yet")
    return states[0].as_dict(datetime.now(UTC))
