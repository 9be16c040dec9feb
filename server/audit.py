"""The append-only, hash-chained audit trail.

Every row carries ``hash = sha256(prev_hash + canonical JSON of its content)``; the first
row chains to 64 zeros. Changing or deleting any row breaks the chain from there on, which
:func:`verify_chain` finds. The database refuses UPDATE and DELETE on the table (a SQLite
trigger, a PostgreSQL statement trigger; see the initial migration) and the API has no
route that writes it except through the changes it records.

Appends are serialised so that two writers never chain to the same row: SQLite allows one
writer at a time (writes use BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory
lock is taken first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text

from server.store.schema import audit_trail

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x5E71A1  # "serial"-ish; any constant shared by every server process


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_key: str
    old_value: Any
    new_value: Any
    reason: str
    hash: str


def _content_hash(prev_hash: str, content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256((prev_hash + canonical).encode("ascii")).hexdigest()


def _content(
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    old_value: str | None,
    new_value: str | None,
    reason: str,
) -> dict[str, Any]:
    return {
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_key": entity_key,
        "old_value": old_value,
        "new_value": new_value,
        "reason": reason,
    }


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    old_value: Any,
    new_value: Any,
    reason: str,
    now: datetime,
) -> str:
    """Record one change in ``conn``'s transaction; returns the new row's hash."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    prev_hash = (
        conn.execute(select(audit_trail.c.hash).order_by(audit_trail.c.id.desc()).limit(1)).scalar()
        or GENESIS
    )
    at = now
    old_text = None if old_value is None else json.dumps(old_value, sort_keys=True)
    new_text = None if new_value is None else json.dumps(new_value, sort_keys=True)
    digest = _content_hash(
        prev_hash, _content(at, actor, action, entity, entity_key, old_text, new_text, reason)
    )
    conn.execute(
        audit_trail.insert(),
        {
            "at": at,
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_key": entity_key,
            "old_value": old_text,
            "new_value": new_text,
            "reason": reason,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    return digest


def entries(
    conn: Connection,
    *,
    entity: str | None = None,
    entity_key: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    query = select(audit_trail).order_by(audit_trail.c.id)
    if entity is not None:
        query = query.where(audit_trail.c.entity == entity)
    if entity_key is not None:
        query = query.where(audit_trail.c.entity_key == entity_key)
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_key=row.entity_key,
            old_value=None if row.old_value is None else json.loads(row.old_value),
            new_value=None if row.new_value is None else json.loads(row.new_value),
            reason=row.reason,
            hash=row.hash,
        )
        for row in conn.execute(query.limit(limit).offset(offset))
    ]


def verify_chain(conn: Connection) -> int | None:
    """The id of the first row whose hash does not chain, or None if the trail is intact."""
    prev_hash = GENESIS
    for row in conn.execute(select(audit_trail).order_by(audit_trail.c.id)):
        content = _content(
            row.at,
            row.actor,
            row.action,
            row.entity,
            row.entity_key,
            row.old_value,
            row.new_value,
            row.reason,
        )
        if row.prev_hash != prev_hash or _content_hash(prev_hash, content) != row.hash:
            return int(row.id)
        prev_hash = row.hash
    return None
