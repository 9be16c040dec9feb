"""Apply a checked EPCIS document to the store, in the caller's transaction.

Shared by the MQTT consumer and ``POST /epcis/capture``. What an event says on its own is
prepared first, without the store (:mod:`server.ingest.prepare`; for MQTT in the receiver
process, ahead of the writer). One call stores every new event (idempotent by eventID; a
missing eventID gets the CBV 2.0 event hash) and derives the trace tables from them. The
package is laid out by the work:

* :mod:`~server.ingest.apply.unit_of_work`: the group of documents applied in one
  transaction, its buffers written with one statement per table (the MQTT consumer's group
  commit, :func:`apply_documents`), and the units and containers it looks up;
* :mod:`~server.ingest.apply.recording`: the events themselves (rows, bodies, query index),
  and repeats of an eventID: the same event again (ignored) or other content (a conflict:
  kept apart in ``event_conflicts`` and alerted);
* one handler per event kind that changes the trace tables, each with the undoing of what an
  erroneous event of its kind asserted: :mod:`~server.ingest.apply.object_events`
  (commissioning, decommissioning, shipping), :mod:`~server.ingest.apply.aggregation_events`
  (packing, unpacking), :mod:`~server.ingest.apply.transformation_events` (raw-material
  lots); every other kind (AssociationEvent, TransactionEvent) is stored and indexed only;
* :mod:`~server.ingest.apply.error_declarations`: an ``errorDeclaration`` marks a stored
  event erroneous and has its handler undo it.

An event that names units not commissioned yet is parked (``parked_events``/``parked_refs``)
and applied again in the transaction that commissions them, so the final state does not
depend on arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from server.ingest.apply.object_events import DECOMMISSIONING_STEPS
from server.ingest.apply.recording import (
    EPC_COLUMNS,
    EVENT_COLUMNS,
    FIELD_COLUMNS,
    classify_repeat,
)
from server.ingest.apply.unit_of_work import (
    CONTAINER_COLUMNS,
    UNIT_COLUMNS,
    ApplyResult,
    apply_prepared,
)
from server.ingest.prepare import STANDARD_CONTEXT, Origin, prepare_document

__all__ = [
    "CONTAINER_COLUMNS",
    "DECOMMISSIONING_STEPS",
    "EPC_COLUMNS",
    "EVENT_COLUMNS",
    "FIELD_COLUMNS",
    "STANDARD_CONTEXT",
    "UNIT_COLUMNS",
    "ApplyResult",
    "Origin",
    "apply_document",
    "apply_documents",
    "apply_prepared",
    "classify_repeat",
]


def apply_document(
    conn: Connection, document: dict[str, Any], origin: Origin, *, now: datetime
) -> ApplyResult:
    """Store and apply every event of a schema-checked ``document`` in ``conn``'s transaction.

    Raises :class:`~server.errors.RejectedDocument` for content the schema lets through but
    the store cannot use (an unreadable eventTime); the caller's transaction then rolls back
    whole.
    """
    return apply_documents(conn, [(document, origin)], now=now)[0]


def apply_documents(
    conn: Connection, documents: Sequence[tuple[dict[str, Any], Origin]], *, now: datetime
) -> list[ApplyResult]:
    """Like :func:`apply_document` for several documents in ``conn``'s transaction, with one
    statement per table for all of them; one result per document, in order.

    The final state is the one applying them one by one gives (commissioning first, then
    every other event in document order, as within one document).
    """
    prepared = [prepare_document(document, origin) for document, origin in documents]
    return apply_prepared(conn, prepared, now=now)
