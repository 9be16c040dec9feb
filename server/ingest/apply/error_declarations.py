"""Error declarations (EPCIS 2.0 section 7.4.1.4).

A capture of an eventID already stored (or repeated in the group), or of a new event, that
carries an ``errorDeclaration`` marks the stored event as erroneous: the declaration is
recorded (``error_declarations``: the first one stays), its fields indexed for queries, an
``error_declaration`` alert raised, and what the event asserted undone in the trace tables by
the handler of its kind (its ``retract``); an erroneous event parked for units not
commissioned yet is not applied when they are. The event's stored body is never changed.
Declarations are applied after the other events of the group, so that the corrective events
sent with a declaration are applied first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from server.cbv import parse_time
from server.ingest.apply import aggregation_events, object_events, transformation_events
from server.ingest.apply.recording import FIELD_COLUMNS, stored_event_pks
from server.ingest.fields import declaration_rows, namespaces, term
from server.store.dialect import bulk_insert
from server.store.schema import (
    error_declarations,
    event_bodies,
    event_fields,
    events,
    parked_events,
    parked_refs,
)

if TYPE_CHECKING:
    from server.ingest.apply.unit_of_work import UnitOfWork

# The undoing of each event kind that changes the trace tables.
Retract = Callable[["UnitOfWork", int, dict[str, Any]], None]
RETRACTS: dict[str, Retract] = {
    "ObjectEvent": object_events.retract,
    "AggregationEvent": aggregation_events.retract,
    "TransformationEvent": transformation_events.retract,
}


def declare_errors(uow: UnitOfWork, new_pks: dict[str, int]) -> None:
    """Apply the errorDeclarations of the group (``new_pks``: eventID -> pk of the events the
    group stored)."""
    found = _declarations(uow)
    if not found:
        return
    known = stored_event_pks(uow, [event_id for event_id, _, _ in found])
    for event_id, declaration, doc in found:
        if event_id in uow.conflicting:  # other content than the stored event: alerted
            continue
        pk = new_pks.get(event_id, known.get(event_id))
        if pk is not None:
            declare(uow, pk, declaration, doc)


def _declarations(uow: UnitOfWork) -> list[tuple[str, dict[str, Any], int]]:
    """(eventID, errorDeclaration, document) of every event of the group that has one."""
    found = []
    for index, doc in enumerate(uow.docs):
        for event in doc.prepared.events:
            if event.declaration is not None:
                found.append((event.event_id, event.declaration, index))
    return found


def declare(uow: UnitOfWork, pk: int, declaration: dict[str, Any], doc: int) -> bool:
    """Record ``declaration`` for the stored event ``pk`` (the first one stays); index its
    corrective eventIDs and fields; undo what the event asserted in the trace tables. False
    if the event was declared erroneous before."""
    conn = uow.conn
    if conn.execute(
        select(error_declarations.c.event_pk).where(error_declarations.c.event_pk == pk)
    ).first():
        return False
    declared_at = parse_time(declaration.get("declarationTime"), "errorDeclaration.declarationTime")
    corrective = [i for i in declaration.get("correctiveEventIDs") or () if isinstance(i, str)]
    reason = declaration.get("reason")
    conn.execute(
        error_declarations.insert(),
        {
            "event_pk": pk,
            "declared_at": declared_at,
            "reason": term(reason) if isinstance(reason, str) else None,
            "corrective_ids": json.dumps(corrective),
            "declaration": json.dumps(declaration, separators=(",", ":"), ensure_ascii=False),
            "recorded_at": uow.now,
        },
    )
    body, event_id = conn.execute(
        select(event_bodies.c.body, events.c.event_id)
        .join(events, events.c.pk == event_bodies.c.event_pk)
        .where(event_bodies.c.event_pk == pk)
    ).one()
    event = json.loads(body)
    rows = declaration_rows(declaration, namespaces(event.get("@context")))
    if rows and not isinstance(event.get("errorDeclaration"), dict):  # else indexed at capture
        bulk_insert(conn, event_fields, FIELD_COLUMNS, uow.field_values(pk, rows))
    # A parked event (waiting for units not commissioned yet) is not applied any more.
    conn.execute(delete(parked_refs).where(parked_refs.c.event_pk == pk))
    conn.execute(delete(parked_events).where(parked_events.c.event_pk == pk))
    uow.parked.pop(pk, None)
    retract = RETRACTS.get(event.get("type"))
    if retract is not None:
        retract(uow, pk, event)
    uow.doc = doc
    uow.alert(
        "error_declaration",
        event_id,
        event_id,
        f"event declared erroneous (reason {term(reason) or 'none'}); corrective events: "
        + (", ".join(corrective) or "none"),
    )
    return True
