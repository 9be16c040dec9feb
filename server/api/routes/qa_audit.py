"""``GET /qa/audit``: the audit trail for people: one page at a time, sorted, filtered, and
each entry said as "who changed what from what to what, why" (the raw JSON stays there)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from server.api.deps import QaUser, ReadConn
from server.audit import AuditEntry
from server.store.schema import audit_trail

router = APIRouter(prefix="/qa", tags=["audit"])

MAX_TEXT = 200  # a value longer than this is cut in the readable change (the JSON has it all)


@dataclass(frozen=True)
class Change:
    field: str
    old: str | None  # None: the field was not there before
    new: str | None  # None: the field is gone


@dataclass(frozen=True)
class ReadableEntry:
    entry: AuditEntry
    changes: list[Change]
    summary: str  # "qa recall batch (01)...(10)L1: disposition active -> recalled"


@dataclass(frozen=True)
class AuditPage:
    total: int
    limit: int
    offset: int
    sort: str
    order: str
    items: list[ReadableEntry]
    actions: list[str]  # every action on record, for the filter
    entities: list[str]


def entry_of_row(row: Any) -> AuditEntry:
    def loads(value: str | None) -> Any:
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return value  # a tampered row is still shown as it is

    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        entity_key=row.entity_key,
        old_value=loads(row.old_value),
        new_value=loads(row.new_value),
        reason=row.reason,
        hash=row.hash,
    )


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def changes_of(old: Any, new: Any) -> list[Change]:
    """Field by field when both sides are objects (or one is missing); else one change."""
    if (isinstance(old, dict) or old is None) and (isinstance(new, dict) or new is None):
        before = old or {}
        after = new or {}
        found = []
        for key in sorted(set(before) | set(after), key=str):
            if key in before and key in after and before[key] == after[key]:
                continue
            found.append(
                Change(
                    str(key),
                    _text(before[key]) if key in before else None,
                    _text(after[key]) if key in after else None,
                )
            )
        return found
    return [
        Change("value", None if old is None else _text(old), None if new is None else _text(new))
    ]


def readable(entry: AuditEntry) -> ReadableEntry:
    changes = changes_of(entry.old_value, entry.new_value)
    parts = []
    for change in changes[:4]:
        if change.old is None:
            parts.append(f"{change.field} set to {change.new}")
        elif change.new is None:
            parts.append(f"{change.field} {change.old} removed")
        else:
            parts.append(f"{change.field} {change.old} → {change.new}")
    if len(changes) > 4:
        parts.append(f"and {len(changes) - 4} more")
    what = f"{entry.actor} {entry.action.replace('_', ' ')} {entry.entity} {entry.entity_key}"
    return ReadableEntry(entry, changes, what + (": " + "; ".join(parts) if parts else ""))


@router.get("/audit")
def audit_page(
    conn: ReadConn,
    _user: QaUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
    sort: Annotated[Literal["at", "actor", "action", "entity"], Query()] = "at",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=256, description="part of the key or reason")] = None,
    since: Annotated[datetime | None, Query(description="at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="before (UTC)")] = None,
) -> AuditPage:
    """Audit entries, newest first by default, filtered by actor, action, entity, text in
    the key or reason, and time; each with its changes field by field and a one-line
    summary. Read only."""
    conditions = []
    if actor:
        conditions.append(audit_trail.c.actor == actor)
    if action:
        conditions.append(audit_trail.c.action == action)
    if entity:
        conditions.append(audit_trail.c.entity == entity)
    if q:
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        conditions.append(
            func.lower(audit_trail.c.entity_key).like(pattern, escape="\\")
            | func.lower(audit_trail.c.reason).like(pattern, escape="\\")
        )
    if since is not None:
        conditions.append(audit_trail.c.at >= since)
    if until is not None:
        conditions.append(audit_trail.c.at < until)
    total = conn.execute(
        select(func.count()).select_from(audit_trail).where(*conditions)
    ).scalar_one()
    column = {
        "at": audit_trail.c.id,  # ids follow time in an append-only trail
        "actor": audit_trail.c.actor,
        "action": audit_trail.c.action,
        "entity": audit_trail.c.entity,
    }[sort]
    keys = [column, audit_trail.c.id] if sort != "at" else [column]
    rows = conn.execute(
        select(audit_trail)
        .where(*conditions)
        .order_by(*(key.desc() if order == "desc" else key.asc() for key in keys))
        .limit(limit)
        .offset(offset)
    ).all()
    return AuditPage(
        total=int(total),
        limit=limit,
        offset=offset,
        sort=sort,
        order=order,
        items=[readable(entry_of_row(row)) for row in rows],
        actions=sorted(conn.execute(select(audit_trail.c.action).distinct()).scalars()),
        entities=sorted(conn.execute(select(audit_trail.c.entity).distinct()).scalars()),
    )
