"""The events themselves: their rows, bodies and query index, stored once by eventID.

An eventID that is stored already (or earlier in the group) is a repeat: :func:`classify_repeat`
says whether it is the same event again (a redelivery: ignored), the same event with an
``errorDeclaration`` (:mod:`server.ingest.apply.error_declarations` records it) or other content
under that eventID (a conflict: the stored event stays as it is, the new body is kept in
``event_conflicts`` and an ``event_conflict`` alert names both).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, select

from server.errors import RejectedDocument
from server.ingest.prepare import PreparedEvent
from server.store.dialect import bulk_insert, chunks, new_ids
from server.store.schema import event_bodies, event_epcs, event_fields, events

if TYPE_CHECKING:
    from server.ingest.apply.unit_of_work import UnitOfWork

EPC_COLUMNS = ("event_pk", "epc", "role")
FIELD_COLUMNS = ("event_pk", "field", "text", "num", "time")
EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "action",
    "event_time",
    "record_time",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "site",
    "line",
    "source",
)

_EVENT_ROW = itemgetter(*EVENT_COLUMNS)


@cache
def timestamp_processor(dialect: Dialect) -> Callable[[Any], Any]:
    """``dialect``'s conversion of a timestamp column's value (SQLite: to the fixed-width UTC
    text SQLAlchemy binds in queries, ``2031-01-02 10:00:00.000000``: without the dialect's own
    processor a whole second was written without fraction and sorted before the same instant
    bound in a query, so ``GE_eventTime`` missed events at exactly its bound)."""
    process = events.c.event_time.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda value: value)


def classify_repeat(stored_text: str, event: PreparedEvent) -> str:
    """How an event that came under an eventID stored before relates to the stored one:
    ``"same"`` (a redelivery, maybe in a document with another ``@context``),
    ``"declaration"`` (the same event with an ``errorDeclaration`` added: EPCIS 2.0 section
    7.4.1.4; it marks the stored event erroneous) or ``"conflict"`` (other content: kept
    apart and alerted, never applied)."""
    if stored_text == event.text:
        return "same"
    stored = json.loads(stored_text)
    if isinstance(stored, dict):
        stored.pop("@context", None)
    new = {key: value for key, value in event.body.items() if key != "@context"}
    if stored == new:
        return "same"
    if "errorDeclaration" in new and isinstance(stored, dict):
        stored.pop("errorDeclaration", None)
        new.pop("errorDeclaration")
        if stored == new:
            return "declaration"
    return "conflict"


def event_rows(uow: UnitOfWork) -> tuple[list[dict[str, Any]], list[PreparedEvent], list[int]]:
    """The events rows to store, their prepared events and their documents' indexes; an
    eventID repeated within the group is stored once (later copies count as duplicates)."""
    rows: list[dict[str, Any]] = []
    prepared: list[PreparedEvent] = []
    doc_of: list[int] = []
    seen: dict[str, PreparedEvent] = {}
    now = uow.now
    for doc_index, doc in enumerate(uow.docs):
        for event in doc.prepared.events:
            doc.event_ids.append(event.event_id)
            first = seen.get(event.event_id)
            if first is not None:
                _repeat(uow, first.text, event, doc_index)
                continue
            seen[event.event_id] = event
            if event.row is None:
                raise RejectedDocument(event.error or "unreadable event")
            rows.append({**event.row, "record_time": now})
            prepared.append(event)
            doc_of.append(doc_index)
    return rows, prepared, doc_of


def store_events(
    uow: UnitOfWork,
    rows: list[dict[str, Any]],
    prepared: list[PreparedEvent],
    doc_of: list[int],
) -> dict[str, int]:
    """Insert the events not stored yet; eventID -> pk of those inserted now. The units they
    name go to ``uow.unit_refs`` (unit_events rows once the units' ids are known)."""
    if not rows:
        return {}
    conn = uow.conn
    # Events are almost always new: pks taken first, then one bulk insert (PostgreSQL:
    # COPY). When a redelivered document names events stored before, those stored now
    # are the ones carrying the pks given here.
    pks = new_ids(conn, events, "pk", len(rows))
    values = [(pk, *_event_values(uow, row)) for pk, row in zip(pks, rows, strict=True)]
    columns = ("pk", *EVENT_COLUMNS)
    inserted = [(pk, row["event_id"]) for pk, row in zip(pks, rows, strict=True)]
    repeats: dict[str, int] = {}
    if bulk_insert(conn, events, columns, values, ignore_conflicts=True) < len(rows):
        stored = stored_event_pks(uow, [row["event_id"] for row in rows])
        inserted = [(pk, event_id) for pk, event_id in inserted if stored.get(event_id) == pk]
        given = dict(inserted)
        repeats = {event_id: pk for event_id, pk in stored.items() if given.get(pk) != event_id}
    new = {event_id: pk for pk, event_id in inserted}
    if repeats:
        _check_repeats(uow, repeats, rows, prepared, doc_of)
    epc_rows: list[tuple[int, str, str]] = []
    body_rows: list[tuple[int, str]] = []
    field_rows: list[tuple[Any, ...]] = []
    refs = uow.unit_refs
    for row, event in zip(rows, prepared, strict=True):
        pk = new.get(row["event_id"])
        if pk is not None:
            body_rows.append((pk, event.text))
            # Units go to unit_refs (unit_events rows once their ids are known), every
            # other EPC and class to event_epcs.
            for role, named in event.unit_refs:
                refs += zip(named, repeat(pk), repeat(role))
            epc_rows += [(pk, key, role) for key, role in event.epc_refs]
            if event.fields:
                field_rows += uow.field_values(pk, event.fields)
    bulk_insert(conn, event_bodies, ("event_pk", "body"), body_rows)
    bulk_insert(conn, event_fields, FIELD_COLUMNS, field_rows)
    bulk_insert(conn, event_epcs, EPC_COLUMNS, epc_rows)
    return new


def stored_event_pks(uow: UnitOfWork, event_ids: Sequence[str]) -> dict[str, int]:
    """eventID -> pk of the stored events among ``event_ids``."""
    found: dict[str, int] = {}
    for part in chunks(event_ids):
        query = select(events.c.event_id, events.c.pk).where(events.c.event_id.in_(part))
        found.update((event_id, int(pk)) for event_id, pk in uow.conn.execute(query))
    return found


def _check_repeats(
    uow: UnitOfWork,
    repeats: dict[str, int],
    rows: list[dict[str, Any]],
    prepared: list[PreparedEvent],
    doc_of: list[int],
) -> None:
    """Compare each event stored before under its eventID with the stored body."""
    bodies: dict[int, str] = {}
    for part in chunks(list(repeats.values())):
        query = select(event_bodies.c.event_pk, event_bodies.c.body).where(
            event_bodies.c.event_pk.in_(part)
        )
        bodies.update((int(pk), body) for pk, body in uow.conn.execute(query))
    index_of = {row["event_id"]: index for index, row in enumerate(rows)}
    for event_id, pk in repeats.items():
        index = index_of.get(event_id)
        stored_text = bodies.get(pk)
        if index is None or stored_text is None:
            continue
        _repeat(uow, stored_text, prepared[index], doc_of[index])


def _repeat(uow: UnitOfWork, stored_text: str, event: PreparedEvent, doc_index: int) -> None:
    """An event under an eventID already stored (or earlier in this group)."""
    if classify_repeat(stored_text, event) != "conflict":
        return
    uow.conflicting.add(event.event_id)
    doc = uow.docs[doc_index]
    origin = doc.prepared.origin
    doc.conflicts += 1
    uow.conflict_rows.append(
        {
            "event_id": event.event_id,
            "received_at": uow.now,
            "source": origin.source,
            "site": origin.site,
            "line": origin.line,
            "body": event.text,
        }
    )
    uow.doc = doc_index
    uow.alert(
        "event_conflict",
        event.event_id,
        event.event_id,
        "the same eventID came again with other content "
        f"(from {origin.source} {origin.site or ''}/{origin.line or ''}); the stored event "
        "is kept as it was and the new body is in event_conflicts",
    )


def _event_values(uow: UnitOfWork, row: dict[str, Any]) -> tuple[Any, ...]:
    """An events row in EVENT_COLUMNS order, in the driver's types."""
    values: tuple[Any, ...] = _EVENT_ROW(row)
    if uow.conn.dialect.name != "sqlite":
        return values
    to_db = uow.db_time
    return tuple(to_db(value) if isinstance(value, datetime) else value for value in values)
