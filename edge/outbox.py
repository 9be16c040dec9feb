"""The durable outbox: what must reach the trace server, in order, exactly as committed.

Rows are written in the same transaction as the state change they report (so a state change
without its event, or an event without its state change, cannot exist on disk). ``seq`` is
AUTOINCREMENT, so it never goes backwards even after rows are deleted: it is the publish order.

``kind`` is ``event`` for one EPCIS event (JSON object; the publisher packs consecutive events
into one EPCIS document) or ``message`` for a payload published as it is.

Every event also gets the line's sequence number, ``line_seq``: 1, 2, 3, … with no holes,
persisted in ``meta`` (``line_seq``) in the same transaction, so it survives restarts and
never repeats. It goes into the event itself as the ``serialtrace:seq`` extension field
(docs/events.md), so it reaches the server durably with the event, and a re-sent event
carries the same number (the eventID, the CBV event hash computed when the event was built,
does not cover it: it says what happened, the number says where it sits in the line's
stream). An event row is deleted only when the trace server confirmed it stored it
(:func:`confirm`); a ``message`` row when the broker acknowledged it (:func:`delete`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from epcis.codec import SERIALTRACE_PREFIX

Kind = Literal["event", "message"]

SEQ_FIELD = f"{SERIALTRACE_PREFIX}:seq"
"""The event extension field that carries the line sequence number."""

_SEQ_PREFIX = f'{{"{SEQ_FIELD}":'.encode()


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    topic: str
    kind: Kind
    payload: bytes
    line_seq: int | None = None


def with_line_seq(event: bytes, line_seq: int) -> bytes:
    """The encoded event JSON object with ``serialtrace:seq`` as its first member."""
    body = event.lstrip()
    if not body.startswith(b"{"):
        raise ValueError(f"outbox event: expected a JSON object, got {event[:20]!r}")
    rest = body[1:].lstrip()
    separator = b"" if rest.startswith(b"}") else b","
    return _SEQ_PREFIX + str(line_seq).encode() + separator + rest


def next_line_seq(conn: sqlite3.Connection) -> int:
    """Take the line's next sequence number (inside the caller's transaction)."""
    (row,) = conn.execute(  # fetchall: the statement runs to its end before the commit
        "INSERT INTO meta (key, value) VALUES ('line_seq', '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value"
    ).fetchall()
    return int(row[0])


def last_line_seq(conn: sqlite3.Connection) -> int:
    """The last sequence number handed out (0 before the first event)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'line_seq'").fetchone()
    return 0 if row is None else int(row[0])


def append(conn: sqlite3.Connection, topic: str, payload: bytes, kind: Kind = "event") -> int:
    """Add a row (inside the caller's transaction); returns its seq. An event gets the line's
    next sequence number, in the row and in its JSON."""
    line_seq: int | None = None
    if kind == "event":
        line_seq = next_line_seq(conn)
        payload = with_line_seq(payload, line_seq)
    cursor = conn.execute(
        "INSERT INTO outbox (topic, kind, payload, created, line_seq) VALUES (?, ?, ?, ?, ?)",
        (topic, kind, payload, time.time(), line_seq),
    )
    return int(cursor.lastrowid or 0)


def _rows(cursor: sqlite3.Cursor) -> list[OutboxRow]:
    return [OutboxRow(row[0], row[1], row[2], bytes(row[3]), row[4]) for row in cursor.fetchall()]


def pending(conn: sqlite3.Connection, after_seq: int, limit: int) -> list[OutboxRow]:
    """Up to ``limit`` rows with seq > ``after_seq``, oldest first."""
    return _rows(
        conn.execute(
            "SELECT seq, topic, kind, payload, line_seq FROM outbox WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, limit),
        )
    )


def by_line_seq(
    conn: sqlite3.Connection, ranges: Iterable[tuple[int, int]], limit: int
) -> list[OutboxRow]:
    """Event rows whose line sequence number lies in one of the inclusive ``ranges`` (what
    the server says it misses), oldest first, at most ``limit``."""
    found: dict[int, OutboxRow] = {}
    for first, last in ranges:
        for row in _rows(
            conn.execute(
                "SELECT seq, topic, kind, payload, line_seq FROM outbox "
                "WHERE line_seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
                (first, last, limit),
            )
        ):
            found[row.seq] = row
    return [found[seq] for seq in sorted(found)][:limit]


def delete(conn: sqlite3.Connection, ranges: Iterable[tuple[int, int]]) -> int:
    """Delete rows the broker acknowledged that need no server confirmation (``message``
    rows, and event rows of an older agent without a line sequence number), given as
    inclusive ``(first, last)`` seq ranges; returns how many were deleted."""
    batch = list(ranges)
    if not batch:
        return 0
    before = conn.total_changes
    conn.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ? AND line_seq IS NULL", batch)
    return conn.total_changes - before


def delete_any(conn: sqlite3.Connection, ranges: Iterable[tuple[int, int]]) -> int:
    """Delete rows by inclusive ``(first, last)`` seq ranges whatever they are (delivery
    confirmed by the broker alone: ``confirm_by = "broker"``)."""
    batch = list(ranges)
    if not batch:
        return 0
    before = conn.total_changes
    conn.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", batch)
    return conn.total_changes - before


def confirm(conn: sqlite3.Connection, up_to: int, line_seqs: Sequence[int] = ()) -> int:
    """Delete the events the server confirmed it stored: every line sequence number up to
    ``up_to`` and each of ``line_seqs``; returns how many rows went."""
    before = conn.total_changes
    if up_to > 0:
        conn.execute("DELETE FROM outbox WHERE line_seq <= ?", (up_to,))
    extra = [(seq,) for seq in line_seqs if seq > up_to]
    if extra:
        conn.executemany("DELETE FROM outbox WHERE line_seq = ?", extra)
    return conn.total_changes - before


def depth(conn: sqlite3.Connection) -> int:
    """Rows not confirmed yet (by the server for events, by the broker for messages)."""
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
