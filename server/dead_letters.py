"""Dead letters: payloads ingest refused, with the reason and its kind.

Kinds (``dead_letters.kind``, the label of ``serialtrace_dead_letters_total`` in /metrics):

============  =================================================================
``size``      larger than ``max_payload_bytes``
``decode``    not UTF-8 JSON
``limit``     past a limit of the bounded decoder: nesting depth, NaN/Infinity,
              an integer of too many digits
``schema``    not an EPCIS 2.0 document with events (GS1's JSON Schema)
``content``   valid by the schema, unusable by the store (an unreadable eventTime)
``location``  a read point or business location not registered for the line
``topic``     not an events topic
``store``     the database refused a value
``internal``  a fault of the server while checking or applying (see its log)
``poison``    crashed a worker twice: passed on unread
============  =================================================================

Floods are bounded: each source (an MQTT topic, an HTTP user) keeps at most
``dead_letter_max_per_source`` rows (the oldest go first), rows older than
``dead_letter_max_age_days`` are purged, and only the first ``dead_letter_keep_bytes`` of a
payload are kept. ``serialtrace server dead-letters list|replay|purge`` and the
``/dead-letters`` API use the functions below; replay and purge are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from server import audit
from server.store.schema import dead_letters

KINDS = (
    "size",
    "decode",
    "limit",
    "schema",
    "content",
    "location",
    "topic",
    "store",
    "internal",
    "poison",
)


def reason_kind(reason: str) -> str:
    """The kind of a dead letter from its reason text (see the module doc)."""
    if reason.startswith("payload: expected at most") and "bytes" in reason:
        return "size"
    if reason.startswith(("payload: expected UTF-8", "payload: expected JSON")):
        return "decode"
    if reason.startswith("payload: "):
        return "limit"
    if reason.startswith(("EPCIS schema:", "type:", "document:", "epcisBody")):
        return "schema"
    if reason.startswith("store refused"):
        return "store"
    if reason.startswith("internal error"):
        return "internal"
    if reason.startswith("topic:"):
        return "topic"
    if reason.startswith("line:") or ".readPoint:" in reason or ".bizLocation:" in reason:
        return "location"
    return "content"


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    received_at: datetime
    source: str
    topic: str | None
    kind: str
    reason: str
    size: int
    payload: bytes

    @property
    def complete(self) -> bool:
        """Whether the whole payload was kept (only then can it be replayed)."""
        return len(self.payload) == self.size

    def summary(self, preview: int = 512) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "source": self.source,
            "topic": self.topic,
            "kind": self.kind,
            "reason": self.reason,
            "size": self.size,
            "replayable": self.complete,
            "payload_preview": self.payload[:preview].decode("utf-8", "replace"),
        }


def _row(row: Any) -> DeadLetterRow:
    return DeadLetterRow(
        row.id,
        row.received_at,
        row.source,
        row.topic,
        row.kind,
        row.reason,
        row.size,
        bytes(row.payload),
    )


def _filters(
    *,
    kind: str | None = None,
    source: str | None = None,
    topic: str | None = None,
    before: datetime | None = None,
    ids: list[int] | None = None,
) -> list[Any]:
    where: list[Any] = []
    if kind is not None:
        where.append(dead_letters.c.kind == kind)
    if source is not None:
        where.append(dead_letters.c.source == source)
    if topic is not None:
        where.append(dead_letters.c.topic == topic)
    if before is not None:
        where.append(dead_letters.c.received_at < before)
    if ids is not None:
        where.append(dead_letters.c.id.in_(ids))
    return where


def list_dead_letters(
    conn: Connection,
    *,
    kind: str | None = None,
    source: str | None = None,
    topic: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DeadLetterRow]:
    query = select(dead_letters).order_by(dead_letters.c.id).limit(limit).offset(offset)
    where = _filters(kind=kind, source=source, topic=topic)
    if where:
        query = query.where(and_(*where))
    return [_row(row) for row in conn.execute(query)]


def get_dead_letter(conn: Connection, dead_letter_id: int) -> DeadLetterRow | None:
    row = conn.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id)).first()
    return None if row is None else _row(row)


def counts_by_kind(conn: Connection) -> dict[str, int]:
    """Dead letters stored now, by kind."""
    query = select(dead_letters.c.kind, func.count()).group_by(dead_letters.c.kind)
    return {str(kind): int(count) for kind, count in conn.execute(query)}


def purge(
    conn: Connection,
    *,
    actor: str,
    reason: str,
    now: datetime,
    kind: str | None = None,
    source: str | None = None,
    before: datetime | None = None,
    ids: list[int] | None = None,
    everything: bool = False,
) -> int:
    """Delete the dead letters matching every filter given (``everything`` for all); how
    many. Audited with the filters and the count."""
    where = _filters(kind=kind, source=source, before=before, ids=ids)
    if not where and not everything:
        raise ValueError("purge: expected a filter (kind, source, before, ids) or everything")
    statement = delete(dead_letters)
    if where:
        statement = statement.where(and_(*where))
    removed = int(conn.execute(statement).rowcount or 0)
    criteria = {
        "kind": kind,
        "source": source,
        "before": before.isoformat() if before else None,
        "ids": ids,
        "everything": everything,
    }
    audit.append(
        conn,
        actor=actor,
        action="dead_letter.purge",
        entity="dead_letter",
        entity_key="*" if ids is None else ",".join(map(str, ids))[:256],
        old_value={key: value for key, value in criteria.items() if value},
        new_value={"removed": removed},
        reason=reason,
        now=now,
    )
    return removed


def prune_source(conn: Connection, source: str, topic: str | None, keep: int) -> int:
    """Keep only the newest ``keep`` dead letters of one source; how many went."""
    same = and_(
        dead_letters.c.source == source,
        dead_letters.c.topic.is_(None) if topic is None else dead_letters.c.topic == topic,
    )
    cutoff = conn.execute(
        select(dead_letters.c.id)
        .where(same)
        .order_by(dead_letters.c.id.desc())
        .offset(keep)
        .limit(1)
    ).scalar()
    if cutoff is None:
        return 0
    return int(
        conn.execute(delete(dead_letters).where(same, dead_letters.c.id <= cutoff)).rowcount or 0
    )


def prune_age(conn: Connection, now: datetime, max_age: timedelta) -> int:
    """Delete dead letters older than ``max_age``; how many went."""
    statement = delete(dead_letters).where(dead_letters.c.received_at < now - max_age)
    return int(conn.execute(statement).rowcount or 0)
