"""The durable outbox: what must reach the broker, in order, exactly as committed.

Rows are written in the same transaction as the state change they report (so a state change
without its event, or an event without its state change, cannot exist on disk) and deleted
only after the broker acknowledged them (PUBACK). ``seq`` is AUTOINCREMENT, so it never goes
backwards even after rows are deleted: it is the publish order.

``kind`` is ``event`` for one EPCIS event (JSON object; the publisher packs consecutive events
into one EPCIS document) or ``message`` for a payload published as it is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["event", "message"]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    topic: str
    kind: Kind
    payload: bytes


def append(conn: sqlite3.Connection, topic: str, payload: bytes, kind: Kind = "event") -> int:
    """Add a row (inside the caller's transaction); returns its seq."""
    cursor = conn.execute(
        "INSERT INTO outbox (topic, kind, payload, created) VALUES (?, ?, ?, ?)",
        (topic, kind, payload, time.time()),
    )
    return int(cursor.lastrowid or 0)


def pending(conn: sqlite3.Connection, after_seq: int, limit: int) -> list[OutboxRow]:
    """Up to ``limit`` rows with seq > ``after_seq``, oldest first."""
    rows = conn.execute(
        "SELECT seq, topic, kind, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()
    return [OutboxRow(row[0], row[1], row[2], bytes(row[3])) for row in rows]


def delete(conn: sqlite3.Connection, ranges: Iterable[tuple[int, int]]) -> int:
    """Delete acknowledged rows, given as inclusive ``(first, last)`` seq ranges (a message
    carries a run of consecutive rows); returns how many were still there."""
    batch = list(ranges)
    if not batch:
        return 0
    before = conn.total_changes
    conn.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", batch)
    return conn.total_changes - before


def depth(conn: sqlite3.Connection) -> int:
    """Rows waiting for a broker acknowledgement."""
    return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def oldest_age_s(conn: sqlite3.Connection, now: float | None = None) -> float:
    """Seconds since the oldest waiting row was written (0 when the outbox is empty)."""
    row = conn.execute("SELECT min(created) FROM outbox").fetchone()
    if row is None or row[0] is None:
        return 0.0
    return max(0.0, (time.time() if now is None else now) - float(row[0]))


def pack_events(events: Sequence[bytes], envelope: tuple[bytes, bytes]) -> bytes:
    """One EPCIS document from already-encoded events: ``head + e1,e2,… + tail``."""
    head, tail = envelope
    return head + b",".join(events) + tail
