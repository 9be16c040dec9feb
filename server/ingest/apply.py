"""Apply a checked EPCIS document to the store, in the caller's transaction.

Shared by the MQTT consumer and ``POST /epcis/capture``. What an event says on its own is
prepared first, without the store (:mod:`server.ingest.prepare`; for MQTT in the receiver
process, ahead of the writer). One call stores every new event
(idempotent by eventID; a missing eventID gets the CBV 2.0 event hash) and derives the
trace tables from them:

* commissioning ObjectEvent (ADD): one unit per SGTIN, its batch from ``ilmd`` lot/expiry;
  a serial already commissioned raises a ``duplicate_commission`` alert, never a second unit;
* packing AggregationEvent (ADD): units / SSCCs into a container (case, pallet, …);
  unpacking (DELETE) takes them out again;
* decommissioning / destroying / dispensing ObjectEvents, and any ObjectEvent with action
  DELETE: the unit leaves the active state with the bizStep as reason;
* shipping ObjectEvent: a shipment with destination, customer and business transaction;
* TransformationEvent: raw-material lots (inputs) of the batch its output LGTIN names.

An eventID that is stored already is a repeat: :func:`classify_repeat` says whether it is
the same event again (a redelivery: ignored) or other content under that eventID (a
conflict: the stored event stays as it is, the new body is kept in ``event_conflicts`` and
an ``event_conflict`` alert names both).

An event that names units not commissioned yet is parked (``parked_events``/``parked_refs``)
and applied again in the transaction that commissions them, so the final state does not
depend on arrival order. Statements are bulk: :func:`apply_documents` applies a group of
documents (the MQTT consumer's group commit) with one statement per table for the whole
group, not one per document or unit.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    and_,
    bindparam,
    case,
    delete,
    exists,
    or_,
    select,
    update,
)

from server.cbv import cbv_term, parse_time
from server.errors import RejectedDocument
from server.identifiers import (
    UnitKey,
    canonical,
    lot_key,
    parse_lot_class,
)
from server.ingest.fields import declaration_rows, namespaces, term
from server.ingest.prepare import (
    STANDARD_CONTEXT,
    Contents,
    Origin,
    PreparedDocument,
    PreparedEvent,
    contents_of,
    ilmd_value,
    prepare_document,
)
from server.store.dialect import (
    bulk_insert,
    chunks,
    insert_ignore,
    new_ids,
    upsert,
)
from server.store.schema import (
    UtcDateTime,
    alerts,
    batch_inputs,
    batch_lines,
    batches,
    containers,
    error_declarations,
    event_bodies,
    event_conflicts,
    event_epcs,
    event_fields,
    events,
    parked_events,
    parked_refs,
    shipments,
    unit_events,
    units,
)

__all__ = [
    "STANDARD_CONTEXT",
    "ApplyResult",
    "Origin",
    "apply_document",
    "apply_documents",
    "apply_prepared",
]

DECOMMISSIONING_STEPS = frozenset(
    {"decommissioning", "destroying", "dispensing", "sampling", "stolen", "retail_selling"}
)
EPC_COLUMNS = ("event_pk", "epc", "role")
FIELD_COLUMNS = ("event_pk", "field", "text", "num", "time")
CONTAINER_COLUMNS = ("id", "sscc", "epc", "level", "status", "site", "line", "created_at")
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
UNIT_COLUMNS = (
    "id",
    "gtin",
    "serial",
    "batch_id",
    "parent_id",
    "shipment_id",
    "status",
    "status_reason",
    "disposition",
    "commission_event",
    "grade",
    "grade_detail",
    "parent_at",
)

_UNIT_ROW = itemgetter(*UNIT_COLUMNS)  # a pending unit's dict -> its row tuple, in C
_EVENT_ROW = itemgetter(*EVENT_COLUMNS)


@cache
def _timestamp_processor(dialect: Dialect) -> Callable[[Any], Any]:
    """``dialect``'s conversion of a timestamp column's value (SQLite: to the fixed-width UTC
    text SQLAlchemy binds in queries, ``2031-01-02 10:00:00.000000``: without the dialect's own
    processor a whole second was written without fraction and sorted before the same instant
    bound in a query, so ``GE_eventTime`` missed events at exactly its bound)."""
    process = events.c.event_time.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda value: value)


def _not_moved_after(column: Any, event_time: Any) -> Any:
    """``column`` (a ``parent_at``) says no event later than ``event_time`` moved the row."""
    return or_(column.is_(None), column <= event_time)


@dataclass(frozen=True)
class ApplyResult:
    """What one document changed."""

    stored: int  # new events stored
    duplicates: int  # events already stored under the same eventID (ignored)
    commissioned: int  # new units
    parked: int  # events waiting for units not commissioned yet
    alerts: int
    event_ids: tuple[str, ...] = ()  # every eventID of the document, in order
    conflicts: int = 0  # eventIDs stored before with other content (kept apart, alerted)


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


def apply_document(
    conn: Connection, document: dict[str, Any], origin: Origin, *, now: datetime
) -> ApplyResult:
    """Store and apply every event of a schema-checked ``document`` in ``conn``'s transaction.

    Raises :class:`RejectedDocument` for content the schema lets through but the store
    cannot use (an unreadable eventTime); the caller's transaction then rolls back whole.
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


def apply_prepared(
    conn: Connection, documents: Sequence[PreparedDocument], *, now: datetime
) -> list[ApplyResult]:
    """:func:`apply_documents` for documents already prepared (:mod:`server.ingest.prepare`,
    which the MQTT receiver process runs ahead of the writer)."""
    return _Applier(conn, now, [_Document(document) for document in documents]).run()


@dataclass
class _Container:
    id: int
    level: int


@dataclass
class _Document:
    prepared: PreparedDocument
    event_ids: list[str] = field(default_factory=list)
    stored: int = 0
    commissioned: int = 0
    alerts: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class _Fresh:
    """A newly stored event: its pk, row, document and what was prepared of it."""

    pk: int
    row: dict[str, Any]
    doc: int
    prepared: PreparedEvent

    @property
    def body(self) -> dict[str, Any]:
        return self.prepared.body


@dataclass
class _Applier:
    conn: Connection
    now: datetime
    docs: list[_Document]
    doc: int = 0  # the document whose event is being applied
    pending: dict[UnitKey, dict[str, Any]] = field(default_factory=dict)
    batch_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    container_cache: dict[str, _Container] = field(default_factory=dict)
    alert_rows: list[dict[str, Any]] = field(default_factory=list)
    parked: dict[int, int] = field(default_factory=dict)  # event pk -> document
    unit_ids: dict[UnitKey, int] = field(default_factory=dict)  # known ids of stored units
    unit_refs: list[tuple[UnitKey, int, str]] = field(default_factory=list)  # (unit, pk, role)
    line_counts: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    line_times: dict[tuple[int, str, str], tuple[datetime, datetime]] = field(default_factory=dict)
    # container id -> (parent id, eventTime of the packing that put it there)
    container_parents: dict[int, tuple[int, datetime]] = field(default_factory=dict)
    conflict_rows: list[dict[str, Any]] = field(default_factory=list)
    conflicting: set[str] = field(default_factory=set)  # eventIDs whose repeat conflicted

    # -- the document -------------------------------------------------------------------

    def run(self) -> list[ApplyResult]:
        rows, prepared, doc_of = self._event_rows()
        new_pks = self._store_events(rows, prepared, doc_of)
        fresh = [
            _Fresh(new_pks[row["event_id"]], row, doc, event)
            for row, event, doc in zip(rows, prepared, doc_of, strict=True)
            if row["event_id"] in new_pks
        ]
        for item in fresh:
            self.docs[item.doc].stored += 1
        self._prepare_containers(fresh)
        # Commissioning first: later events may pack those units.
        for item in fresh:
            if item.prepared.commissioning is not None:
                self.doc = item.doc
                self._commission(item.pk, item.prepared, item.row)
        for item in fresh:
            if item.prepared.commissioning is None:
                self.doc = item.doc
                self._derive(item.pk, item.body, item.row["event_time"], item.prepared.contents)
        commissioned = self._flush_units()
        if commissioned:
            self._resolve_parked(commissioned)
        self._flush_unit_refs()
        self._flush_container_parents()
        self._flush_batch_lines()
        if self.conflict_rows:
            self.conn.execute(event_conflicts.insert(), self.conflict_rows)
        self._declare_errors(new_pks)
        if self.alert_rows:
            for row in self.alert_rows:
                self.docs[row.pop("_doc")].alerts += 1
            self.conn.execute(alerts.insert(), self.alert_rows)
        parked = Counter(self.parked.values())
        return [
            ApplyResult(
                stored=doc.stored,
                duplicates=len(doc.event_ids) - doc.stored,
                commissioned=doc.commissioned,
                parked=parked[index],
                alerts=doc.alerts,
                event_ids=tuple(doc.event_ids),
                conflicts=doc.conflicts,
            )
            for index, doc in enumerate(self.docs)
        ]

    @property
    def origin(self) -> Origin:
        """Where the document being applied came from."""
        return self.docs[self.doc].prepared.origin

    def _event_rows(self) -> tuple[list[dict[str, Any]], list[PreparedEvent], list[int]]:
        """The events rows to store, their prepared events and their documents' indexes; an
        eventID repeated within the group is stored once (later copies count as
        duplicates)."""
        rows: list[dict[str, Any]] = []
        prepared: list[PreparedEvent] = []
        doc_of: list[int] = []
        seen: dict[str, PreparedEvent] = {}
        now = self.now
        for doc_index, doc in enumerate(self.docs):
            for event in doc.prepared.events:
                doc.event_ids.append(event.event_id)
                first = seen.get(event.event_id)
                if first is not None:
                    self._repeat(first.text, event, doc_index)
                    continue
                seen[event.event_id] = event
                if event.row is None:
                    raise RejectedDocument(event.error or "unreadable event")
                rows.append({**event.row, "record_time": now})
                prepared.append(event)
                doc_of.append(doc_index)
        return rows, prepared, doc_of

    def _store_events(
        self, rows: list[dict[str, Any]], prepared: list[PreparedEvent], doc_of: list[int]
    ) -> dict[str, int]:
        """Insert the events not stored yet; eventID -> pk of those inserted now."""
        if not rows:
            return {}
        # Events are almost always new: pks taken first, then one bulk insert (PostgreSQL:
        # COPY). When a redelivered document names events stored before, those stored now
        # are the ones carrying the pks given here.
        pks = new_ids(self.conn, events, "pk", len(rows))
        values = [(pk, *self._event_values(row)) for pk, row in zip(pks, rows, strict=True)]
        columns = ("pk", *EVENT_COLUMNS)
        inserted = [(pk, row["event_id"]) for pk, row in zip(pks, rows, strict=True)]
        repeats: dict[str, int] = {}
        if bulk_insert(self.conn, events, columns, values, ignore_conflicts=True) < len(rows):
            stored = self._stored_event_pks([row["event_id"] for row in rows])
            inserted = [(pk, event_id) for pk, event_id in inserted if stored.get(event_id) == pk]
            given = dict(inserted)
            repeats = {event_id: pk for event_id, pk in stored.items() if given.get(pk) != event_id}
        new = {event_id: pk for pk, event_id in inserted}
        if repeats:
            self._check_repeats(repeats, rows, prepared, doc_of)
        epc_rows: list[tuple[int, str, str]] = []
        body_rows: list[tuple[int, str]] = []
        field_rows: list[tuple[Any, ...]] = []
        refs = self.unit_refs
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
                    field_rows += self._field_values(pk, event.fields)
        bulk_insert(self.conn, event_bodies, ("event_pk", "body"), body_rows)
        bulk_insert(self.conn, event_fields, FIELD_COLUMNS, field_rows)
        bulk_insert(self.conn, event_epcs, EPC_COLUMNS, epc_rows)
        return new

    def _check_repeats(
        self,
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
            bodies.update((int(pk), body) for pk, body in self.conn.execute(query))
        index_of = {row["event_id"]: index for index, row in enumerate(rows)}
        for event_id, pk in repeats.items():
            index = index_of.get(event_id)
            stored_text = bodies.get(pk)
            if index is None or stored_text is None:
                continue
            self._repeat(stored_text, prepared[index], doc_of[index])

    def _repeat(self, stored_text: str, event: PreparedEvent, doc_index: int) -> None:
        """An event under an eventID already stored (or earlier in this group)."""
        if classify_repeat(stored_text, event) != "conflict":
            return
        self.conflicting.add(event.event_id)
        doc = self.docs[doc_index]
        origin = doc.prepared.origin
        doc.conflicts += 1
        self.conflict_rows.append(
            {
                "event_id": event.event_id,
                "received_at": self.now,
                "source": origin.source,
                "site": origin.site,
                "line": origin.line,
                "body": event.text,
            }
        )
        self.doc = doc_index
        self._alert(
            "event_conflict",
            event.event_id,
            event.event_id,
            "the same eventID came again with other content "
            f"(from {origin.source} {origin.site or ''}/{origin.line or ''}); the stored event "
            "is kept as it was and the new body is in event_conflicts",
        )

    def _event_values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """An events row in EVENT_COLUMNS order, in the driver's types."""
        values: tuple[Any, ...] = _EVENT_ROW(row)
        if self.conn.dialect.name != "sqlite":
            return values
        to_db = self._db_time
        return tuple(to_db(value) if isinstance(value, datetime) else value for value in values)

    def _db_time(self, value: datetime) -> Any:
        """A timestamp in the driver's type (the column type's own conversion, so that it
        compares equal to what SQLAlchemy writes)."""
        return _timestamp_processor(self.conn.dialect)(value)

    def _stored_event_pks(self, event_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in chunks(event_ids):
            query = select(events.c.event_id, events.c.pk).where(events.c.event_id.in_(part))
            found.update((event_id, int(pk)) for event_id, pk in self.conn.execute(query))
        return found

    def _flush_unit_refs(self) -> None:
        """unit_events rows for the units the new events name; a unit not commissioned
        (yet) is named by its key text in event_epcs instead."""
        if not self.unit_refs:
            return
        unknown = list({unit for unit, _, _ in self.unit_refs if unit not in self.unit_ids})
        if unknown:
            self._find_units(unknown)  # records the ids of the stored ones
        ids = self.unit_ids
        text_rows: list[tuple[int, str, str]] = []
        if unknown and any(unit not in ids for unit in unknown):
            rows = []
            for unit, pk, role in self.unit_refs:
                unit_id = ids.get(unit)
                if unit_id is None:
                    text_rows.append((pk, unit.key, role))
                else:
                    rows.append((unit_id, pk, role))
        else:
            rows = [(ids[unit], pk, role) for unit, pk, role in self.unit_refs]
        # In key order (the refs come as a few ascending runs: cheap to sort), once each (two
        # forms of one EPC in one list name the unit once).
        rows.sort()
        unique = list(dict.fromkeys(rows))
        bulk_insert(self.conn, unit_events, ("unit_id", "event_pk", "role"), unique)
        bulk_insert(self.conn, event_epcs, EPC_COLUMNS, text_rows)

    # -- commissioning ------------------------------------------------------------------

    def _commission(self, pk: int, event: PreparedEvent, row: dict[str, Any]) -> None:
        assert event.commissioning is not None
        lot, expiry, disposition, commissioned, grade = event.commissioning
        site, line = row["site"], row["line"]
        event_time = row["event_time"]
        batch_gtin, batch_id = "", None
        line_key = (site, line, event_time)  # one tuple shared by the event's units
        for unit in commissioned:
            earlier = self.pending.get(unit)
            if earlier is not None:
                self._alert(
                    "duplicate_commission",
                    unit.key,
                    row["event_id"],
                    "serial commissioned twice in one document; one unit kept"
                    if earlier["_doc"] == self.doc
                    else "serial already commissioned; no second unit created",
                )
                continue
            if lot is not None and unit.gtin != batch_gtin:
                batch_gtin, batch_id = unit.gtin, self._batch(unit.gtin, lot, expiry, row)
            self.pending[unit] = {
                "gtin": unit.gtin,
                "serial": unit.serial,
                "batch_id": batch_id,
                "parent_id": None,
                "shipment_id": None,
                "status": "active",
                "status_reason": None,
                "disposition": disposition,
                "commission_event": pk,
                "grade": grade[0] if grade else None,
                "grade_detail": grade[1] if grade else None,
                "parent_at": None,  # the driver's value of _parent_at
                "_parent_at": None,
                "_event_id": row["event_id"],
                "_line": line_key,
                "_doc": self.doc,
            }

    def _batch(self, gtin: str, lot: str, expiry: str | None, row: dict[str, Any]) -> int:
        cached = self.batch_ids.get((gtin, lot))
        if cached is not None:
            return cached
        where = and_(batches.c.gtin == gtin, batches.c.lot == lot)
        found = self.conn.execute(select(batches.c.id, batches.c.expiry).where(where)).first()
        if found is None:
            self.conn.execute(
                insert_ignore(self.conn, batches),
                {
                    "gtin": gtin,
                    "lot": lot,
                    "expiry": expiry,
                    "site": row["site"],
                    "line": row["line"],
                    "first_seen": row["event_time"],
                },
            )
            found = self.conn.execute(select(batches.c.id, batches.c.expiry).where(where)).one()
        if expiry is not None and found.expiry is None:
            # The batch was first named without its expiry (a transformation's output lot).
            self.conn.execute(update(batches).where(batches.c.id == found.id).values(expiry=expiry))
        elif expiry is not None and found.expiry != expiry:
            self._alert(
                "batch_mismatch",
                lot_key(gtin, lot),
                row["event_id"],
                f"expiry {expiry!r} differs from the batch's {found.expiry!r}",
            )
        self.batch_ids[(gtin, lot)] = found.id
        return int(found.id)

    def _flush_units(self) -> list[UnitKey]:
        """Insert the pending units; the keys of those that are new."""
        if not self.pending:
            return []
        ids = new_ids(self.conn, units, "id", len(self.pending))
        for row, unit_id in zip(self.pending.values(), ids, strict=True):
            row["id"] = unit_id
        rows = list(map(_UNIT_ROW, self.pending.values()))
        inserted = bulk_insert(self.conn, units, UNIT_COLUMNS, rows, ignore_conflicts=True)
        if inserted == len(rows):
            created = list(self.pending)
            self.unit_ids.update((unit, row["id"]) for unit, row in self.pending.items())
        else:  # some serials were commissioned before
            created = self._created_by(self.pending)
        new_rows: Iterable[dict[str, Any]] = self.pending.values()
        if len(created) < len(rows):
            created_set = set(created)
            kept = []
            for unit, row in self.pending.items():
                if unit in created_set:
                    kept.append(row)
                    continue
                self.doc = row["_doc"]
                self._alert(
                    "duplicate_commission",
                    unit.key,
                    row["_event_id"],
                    "serial already commissioned; no second unit created",
                )
            new_rows = kept
        # Counted per commissioning event (its units share one "_line" tuple), not per unit.
        per_event = Counter((row["_doc"], row["batch_id"], row["_line"]) for row in new_rows)
        for (doc, batch_id, (site, line, at)), count in per_event.items():
            self.docs[doc].commissioned += count
            if batch_id is not None:
                key = (batch_id, site, line)
                self.line_counts[key] += count
                first, last = self.line_times.get(key, (at, at))
                self.line_times[key] = (min(first, at), max(last, at))
        return created

    def _created_by(self, pending: dict[UnitKey, dict[str, Any]]) -> list[UnitKey]:
        """The pending units whose stored row is the one this document commissioned (the
        ids of all of them, created or commissioned before, go to :attr:`unit_ids`)."""
        return [
            unit
            for unit, _, event_pk in self._stored_units(pending)
            if pending[unit]["commission_event"] == event_pk
        ]

    def _flush_batch_lines(self) -> None:
        if not self.line_counts:
            return
        statement = upsert(self.conn, batch_lines)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["batch_id", "site", "line"],
            set_={
                "commissioned": batch_lines.c.commissioned + excluded.commissioned,
                "first_at": case(
                    (excluded.first_at < batch_lines.c.first_at, excluded.first_at),
                    else_=batch_lines.c.first_at,
                ),
                "last_at": case(
                    (excluded.last_at > batch_lines.c.last_at, excluded.last_at),
                    else_=batch_lines.c.last_at,
                ),
            },
        )
        rows = [
            {
                "batch_id": batch_id,
                "site": site,
                "line": line,
                "commissioned": count,
                "first_at": self.line_times[(batch_id, site, line)][0],
                "last_at": self.line_times[(batch_id, site, line)][1],
            }
            for (batch_id, site, line), count in sorted(self.line_counts.items())
        ]
        for row in rows:  # one row per batch and line: a handful per document
            self.conn.execute(statement, row)

    # -- every other event ----------------------------------------------------------------

    def _derive(
        self,
        pk: int,
        event: dict[str, Any],
        event_time: datetime,
        named: Contents | None = None,
    ) -> None:
        """Apply an event other than a commissioning; ``named``: its :class:`Contents` if
        prepared (a parked event applied again has only its body)."""
        kind = event.get("type")
        action = event.get("action")
        step = cbv_term(event.get("bizStep"))
        named = named if named is not None else contents_of(event)
        if named is None:  # neither an AggregationEvent nor an ObjectEvent
            if kind == "TransformationEvent":
                self._transform(pk, event)
        elif kind == "AggregationEvent" and action == "ADD":
            self._aggregate(pk, named, event_time)
        elif kind == "AggregationEvent" and action == "DELETE":
            self._disaggregate(pk, event, named, event_time)
        elif kind == "ObjectEvent" and step == "shipping":
            self._ship(pk, event, event_time, named)
        elif kind == "ObjectEvent" and (step in DECOMMISSIONING_STEPS or action == "DELETE"):
            self._decommission(pk, event, step, named)

    def _aggregate(self, pk: int, named: Contents, event_time: datetime) -> None:
        """Put the children into the parent, each only if this packing is not older than
        what last moved it (``parent_at``): events that arrive late (lost and sent again)
        never undo a later packing or unpacking."""
        if named.parent is None or named.parent_epc is None:
            return
        parent = self._container(named.parent, named.parent_epc)
        unit_children, sscc_children = named.units, named.ssccs
        level = 1 if unit_children else 0
        if sscc_children:
            children = [self._container(sscc, epc) for sscc, epc in sscc_children]
            level = max(level, 1 + max(max(child.level, 1) for child in children))
            for child in children:  # written once for the group (_flush_container_parents)
                earlier = self.container_parents.get(child.id)
                if earlier is None or earlier[1] <= event_time:
                    self.container_parents[child.id] = (parent.id, event_time)
        if level > parent.level:
            self.conn.execute(
                update(containers)
                .where(containers.c.id == parent.id)
                .values(level=level, status="packed")
            )
            parent.level = level
        if unit_children:
            self._move_units(pk, unit_children, parent.id, event_time)

    def _move_units(
        self, pk: int, keys: Sequence[UnitKey], parent_id: int, event_time: datetime
    ) -> None:
        """Set the units' parent as of ``event_time`` unless a later event moved them."""
        stored: list[UnitKey] = []
        for unit in keys:
            row = self.pending.get(unit)
            if row is None:
                stored.append(unit)
            elif row["_parent_at"] is None or row["_parent_at"] <= event_time:
                row["parent_id"] = parent_id
                row["_parent_at"] = event_time
                row["parent_at"] = self._db_time(event_time)
        if not stored:
            return
        ids, missing = self._find_units(stored)
        for part in chunks(ids):
            self.conn.execute(
                update(units)
                .where(units.c.id.in_(part), _not_moved_after(units.c.parent_at, event_time))
                .values(parent_id=parent_id, parent_at=event_time)
            )
        if missing:
            self._park(pk, missing)

    def _flush_container_parents(self) -> None:
        """Write the parents the group's packing events gave containers (the latest one
        each), unless a later event moved the container meanwhile."""
        if self.container_parents:
            rows = [
                {"child": child, "parent": parent, "at": at}
                for child, (parent, at) in self.container_parents.items()
            ]
            self.container_parents = {}
            self.conn.execute(
                update(containers)
                .where(
                    containers.c.id == bindparam("child"),
                    _not_moved_after(containers.c.parent_at, bindparam("at", type_=UtcDateTime())),
                )
                .values(parent_id=bindparam("parent"), parent_at=bindparam("at")),
                rows,
            )

    def _disaggregate(
        self, pk: int, event: dict[str, Any], named: Contents, event_time: datetime
    ) -> None:
        """Take the children out, each only if this unpacking is not older than what last
        moved it; a child not in the container yet (its packing still on the way) is marked
        as out as of this time, so that the older packing, when it comes, leaves it out; an
        unpacking that names units not commissioned yet is parked and applied again when
        they are (the same rule then holds for them)."""
        self._flush_container_parents()  # this reads and writes containers.parent_id
        if named.parent is None or named.parent_epc is None:
            return
        parent = self._container(named.parent, named.parent_epc)
        out = {"parent_id": None, "parent_at": event_time}
        everything = not event.get("childEPCs")
        named_units = set(named.units)
        for unit, row in self.pending.items():  # units of this group, not inserted yet
            if (
                (row["parent_id"] == parent.id or (not everything and row["parent_id"] is None))
                and (everything or unit in named_units)
                and (row["_parent_at"] is None or row["_parent_at"] <= event_time)
            ):
                row["parent_id"] = None
                row["_parent_at"] = event_time
                row["parent_at"] = self._db_time(event_time)
        if everything:  # everything out of the container
            self.conn.execute(
                update(units)
                .where(
                    units.c.parent_id == parent.id,
                    _not_moved_after(units.c.parent_at, event_time),
                )
                .values(**out)
            )
            self.conn.execute(
                update(containers)
                .where(
                    containers.c.parent_id == parent.id,
                    _not_moved_after(containers.c.parent_at, event_time),
                )
                .values(**out)
            )
            self.conn.execute(
                update(containers).where(containers.c.id == parent.id).values(status="unpacked")
            )
            return
        if named.units:
            _, missing = self._find_units([u for u in named.units if u not in self.pending])
            if missing:
                self._park(pk, missing)
        for unit in named.units:
            self.conn.execute(
                update(units)
                .where(
                    units.c.gtin == unit.gtin,
                    units.c.serial == unit.serial,
                    or_(units.c.parent_id == parent.id, units.c.parent_id.is_(None)),
                    _not_moved_after(units.c.parent_at, event_time),
                )
                .values(**out)
            )
        for sscc, epc in named.ssccs:
            self._container(sscc, epc)  # known from now on (its level unknown until packed)
            self.conn.execute(
                update(containers)
                .where(
                    containers.c.sscc == sscc,
                    or_(containers.c.parent_id == parent.id, containers.c.parent_id.is_(None)),
                    _not_moved_after(containers.c.parent_at, event_time),
                )
                .values(**out)
            )

    def _decommission(
        self, pk: int, event: dict[str, Any], step: str | None, named: Contents
    ) -> None:
        status = "destroyed" if step == "destroying" else "decommissioned"
        values = {
            "status": status,
            "status_reason": step or "action DELETE",
            "disposition": cbv_term(event.get("disposition")) or "inactive",
        }
        for sscc, epc in named.ssccs:
            container = self._container(sscc, epc)
            self.conn.execute(
                update(containers)
                .where(containers.c.id == container.id)
                .values(status="decommissioned")
            )
        if named.units:
            self._update_units(pk, named.units, values)

    def _ship(self, pk: int, event: dict[str, Any], event_time: datetime, named: Contents) -> None:
        destinations = {
            cbv_term(item.get("type")): item.get("destination")
            for item in event.get("destinationList") or ()
            if isinstance(item, dict)
        }
        transactions = [
            item.get("bizTransaction")
            for item in event.get("bizTransactionList") or ()
            if isinstance(item, dict)
        ]
        container_ids = [self._container(sscc, epc).id for sscc, epc in named.ssccs]
        ssccs = [sscc for sscc, _ in named.ssccs]
        existing = self.conn.execute(
            select(shipments.c.id).where(shipments.c.event_pk == pk)
        ).scalar()
        if existing is None:
            existing = self.conn.execute(
                shipments.insert().returning(shipments.c.id),
                {
                    "event_pk": pk,
                    "shipped_at": event_time,
                    "destination": destinations.get("location") or destinations.get("owning_party"),
                    "customer": destinations.get("owning_party")
                    or destinations.get("possessing_party"),
                    "biz_transaction": transactions[0] if transactions else None,
                    "ssccs": json.dumps(ssccs),
                    "detail": json.dumps(
                        {
                            "sourceList": event.get("sourceList") or [],
                            "destinationList": event.get("destinationList") or [],
                            "bizTransactionList": event.get("bizTransactionList") or [],
                        }
                    ),
                },
            ).scalar_one()
        for part in chunks(container_ids):
            self.conn.execute(
                update(containers).where(containers.c.id.in_(part)).values(shipment_id=existing)
            )
        if named.units:
            self._update_units(pk, named.units, {"shipment_id": existing})

    def _transform(self, pk: int, event: dict[str, Any]) -> None:
        outputs = [
            item.get("epcClass")
            for item in event.get("outputQuantityList") or ()
            if isinstance(item, dict)
        ]
        lots = [parse_lot_class(epc_class) for epc_class in outputs if isinstance(epc_class, str)]
        batch_ids = []
        for lot in lots:
            if lot is None:
                continue
            row = self.conn.execute(
                select(batches.c.id).where(batches.c.gtin == lot[0], batches.c.lot == lot[1])
            ).first()
            if row is None:
                self.conn.execute(
                    insert_ignore(self.conn, batches),
                    {
                        "gtin": lot[0],
                        "lot": lot[1],
                        "expiry": ilmd_value(event.get("ilmd"), "itemExpirationDate"),
                        "site": None,
                        "line": None,
                        "first_seen": self.now,
                    },
                )
                row = self.conn.execute(
                    select(batches.c.id).where(batches.c.gtin == lot[0], batches.c.lot == lot[1])
                ).one()
            batch_ids.append(row.id)
        inputs: list[dict[str, Any]] = []
        for item in event.get("inputQuantityList") or ():
            if isinstance(item, dict) and isinstance(item.get("epcClass"), str):
                inputs.append(
                    {
                        "input": canonical(item["epcClass"]),
                        "quantity": item.get("quantity"),
                        "uom": item.get("uom"),
                    }
                )
        for epc in event.get("inputEPCList") or ():
            inputs.append({"input": canonical(epc), "quantity": None, "uom": None})
        rows = [
            {**item, "batch_id": batch_id, "event_pk": pk}
            for batch_id in batch_ids
            for item in inputs
        ]
        if rows:
            self.conn.execute(batch_inputs.insert(), rows)

    # -- helpers ---------------------------------------------------------------------------

    def _update_units(self, pk: int, keys: Sequence[UnitKey], values: dict[str, Any]) -> None:
        """Set ``values`` on units in this document or in the store; park the rest."""
        stored: list[UnitKey] = []
        for unit in keys:
            row = self.pending.get(unit)
            if row is not None:
                row.update(values)
            else:
                stored.append(unit)
        if not stored:
            return
        ids, missing = self._find_units(stored)
        for part in chunks(ids):
            self.conn.execute(update(units).where(units.c.id.in_(part)).values(**values))
        if missing:
            self._park(pk, missing)

    def _find_units(self, keys: Iterable[UnitKey]) -> tuple[list[int], list[UnitKey]]:
        """The ids of the stored units among ``keys``, and the keys not stored."""
        keys = list(keys)
        ids = [unit_id for _, unit_id, _ in self._stored_units(keys)]
        missing = [unit for unit in keys if unit not in self.unit_ids]
        return ids, missing

    def _stored_units(self, keys: Iterable[UnitKey]) -> Iterator[tuple[UnitKey, int, int]]:
        """(unit, id, commission event pk) of the stored units among ``keys``, one query per
        GTIN and chunk; their ids go to :attr:`unit_ids`."""
        by_gtin: defaultdict[str, list[str]] = defaultdict(list)
        for unit in keys:
            by_gtin[unit.gtin].append(unit.serial)
        for gtin, serials in by_gtin.items():
            for part in chunks(serials):
                query = select(units.c.id, units.c.serial, units.c.commission_event).where(
                    units.c.gtin == gtin, units.c.serial.in_(part)
                )
                for unit_id, serial, event_pk in self.conn.execute(query):
                    unit = UnitKey(gtin, serial)
                    self.unit_ids[unit] = unit_id
                    yield unit, unit_id, event_pk

    def _prepare_containers(self, fresh: list[_Fresh]) -> None:
        """Look up, in one query, every container the documents name, and create the new
        ones in one statement with the level their packing events give them."""
        named: dict[str, str] = {}
        origins: dict[str, Origin] = {}
        levels: dict[str, int] = {}
        for item in fresh:
            contents = item.prepared.contents
            if contents is None:
                continue
            origin = self.docs[item.doc].prepared.origin
            parent = contents.parent
            if parent is not None and contents.parent_epc is not None:  # AggregationEvent
                named.setdefault(parent, contents.parent_epc)
                origins.setdefault(parent, origin)
                level = max(levels.get(parent, 0), 1 if contents.unit_like else 0)
                for child, epc in contents.ssccs:
                    named.setdefault(child, epc)
                    origins.setdefault(child, origin)
                    level = max(level, 1 + max(levels.get(child, 1), 1))
                if item.row["action"] == "ADD":
                    levels[parent] = level
            elif item.row["event_type"] == "ObjectEvent":
                for sscc, epc in contents.ssccs:
                    named.setdefault(sscc, epc)
                    origins.setdefault(sscc, origin)
        if not named:
            return
        self._load_containers(list(named))
        new = [sscc for sscc in named if sscc not in self.container_cache]
        if new:
            self._create_containers(new, named, origins, levels)

    def _create_containers(
        self,
        new: list[str],
        named: dict[str, str],
        origins: dict[str, Origin],
        levels: dict[str, int],
    ) -> None:
        """Insert the containers of ``new`` (almost always new: ids taken first, then one
        bulk insert); if another ingest process created some meanwhile, all are read back."""
        ids = new_ids(self.conn, containers, "id", len(new))
        created_at = self._db_time(self.now)
        rows = [
            (
                container_id,
                sscc,
                named[sscc],
                levels.get(sscc, 0),
                "packed",
                origins[sscc].site,
                origins[sscc].line,
                created_at,
            )
            for container_id, sscc in zip(ids, new, strict=True)
        ]
        inserted = bulk_insert(
            self.conn, containers, CONTAINER_COLUMNS, rows, ignore_conflicts=True
        )
        if inserted == len(rows):
            for container_id, sscc in zip(ids, new, strict=True):
                self.container_cache[sscc] = _Container(container_id, levels.get(sscc, 0))
        else:  # some were created meanwhile: read every one back
            self._load_containers(new)

    def _load_containers(self, ssccs: Sequence[str]) -> None:
        for part in chunks(ssccs):
            query = select(containers.c.id, containers.c.sscc, containers.c.level).where(
                containers.c.sscc.in_(part)
            )
            for container_id, sscc, level in self.conn.execute(query):
                self.container_cache[sscc] = _Container(int(container_id), int(level))

    def _container(self, sscc: str, epc: str) -> _Container:
        cached = self.container_cache.get(sscc)
        if cached is not None:
            return cached
        query = select(containers.c.id, containers.c.level).where(containers.c.sscc == sscc)
        row = self.conn.execute(query).first()
        if row is None:
            self.conn.execute(
                insert_ignore(self.conn, containers),
                {
                    "sscc": sscc,
                    "epc": epc,
                    "level": 0,
                    "status": "packed",
                    "site": self.origin.site,
                    "line": self.origin.line,
                    "created_at": self.now,
                },
            )
            row = self.conn.execute(query).one()
        container = _Container(int(row.id), int(row.level))
        self.container_cache[sscc] = container
        return container

    def _park(self, pk: int, missing: Sequence[UnitKey]) -> None:
        self.conn.execute(delete(parked_refs).where(parked_refs.c.event_pk == pk))
        self.conn.execute(delete(parked_events).where(parked_events.c.event_pk == pk))
        self.conn.execute(
            parked_events.insert(), {"event_pk": pk, "parked_at": self.now, "waiting": len(missing)}
        )
        self.conn.execute(parked_refs.insert(), [{"event_pk": pk, "epc": u.key} for u in missing])
        self.parked[pk] = self.doc

    def _resolve_parked(self, commissioned: Sequence[UnitKey]) -> None:
        """Apply again the parked events that wait for any of the units just commissioned."""
        if not self.conn.execute(select(exists().select_from(parked_events))).scalar():
            return
        keys = [unit.key for unit in commissioned]
        waiting: set[int] = set()
        for part in chunks(keys):
            query = select(parked_refs.c.event_pk).where(parked_refs.c.epc.in_(part)).distinct()
            waiting.update(self.conn.execute(query).scalars())
        if not waiting:
            return
        self.pending = {}  # the units are in the store now
        for pk, body, event_time in self.conn.execute(
            select(events.c.pk, event_bodies.c.body, events.c.event_time)
            .join(event_bodies, event_bodies.c.event_pk == events.c.pk)
            .where(events.c.pk.in_(sorted(waiting)))
            .order_by(events.c.pk)
        ):
            self.conn.execute(delete(parked_refs).where(parked_refs.c.event_pk == pk))
            self.conn.execute(delete(parked_events).where(parked_events.c.event_pk == pk))
            self.parked.pop(pk, None)
            self._derive(pk, json.loads(body), event_time)

    def _field_values(self, pk: int, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``event_fields`` rows of event ``pk`` in the driver's types."""
        to_db = self._db_time
        return [
            (pk, field, text, num, None if moment is None else to_db(moment))
            for field, text, num, moment in rows
        ]

    def _declare_errors(self, new_pks: dict[str, int]) -> None:
        """Apply the errorDeclarations of the group (after its other events, so that the
        corrective events sent with a declaration are applied first)."""
        found = _declarations(self)
        if not found:
            return
        known = self._stored_event_pks([event_id for event_id, _, _ in found])
        for event_id, declaration, doc in found:
            if event_id in self.conflicting:  # other content than the stored event: alerted
                continue
            pk = new_pks.get(event_id, known.get(event_id))
            if pk is not None:
                _declare(self, pk, declaration, doc)

    def _alert(self, kind: str, subject: str, event_id: str, detail: str) -> None:
        self.alert_rows.append(
            {
                "at": self.now,
                "kind": kind,
                "subject": subject,
                "event_id": event_id,
                "detail": detail,
                "_doc": self.doc,
            }
        )


# -- error declarations (EPCIS 2.0 section 7.4.1.4) ------------------------------------------
# Kept apart from the rest of the applier on purpose: a capture of an eventID already stored
# (or repeated in the group) that carries an errorDeclaration marks the stored event as
# erroneous; its body is never changed.


def _declarations(applier: _Applier) -> list[tuple[str, dict[str, Any], int]]:
    """(eventID, errorDeclaration, document) of every event of the group that has one."""
    found = []
    for index, doc in enumerate(applier.docs):
        for event in doc.prepared.events:
            if event.declaration is not None:
                found.append((event.event_id, event.declaration, index))
    return found


def _declare(applier: _Applier, pk: int, declaration: dict[str, Any], doc: int) -> bool:
    """Record ``declaration`` for the stored event ``pk`` (the first one stays); index its
    corrective eventIDs and fields; undo what the event asserted in the trace tables. False
    if the event was declared erroneous before."""
    conn = applier.conn
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
            "recorded_at": applier.now,
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
        bulk_insert(conn, event_fields, FIELD_COLUMNS, applier._field_values(pk, rows))
    _retract(applier, pk, event)
    applier.doc = doc
    applier._alert(
        "error_declaration",
        event_id,
        event_id,
        f"event declared erroneous (reason {term(reason) or 'none'}); corrective events: "
        + (", ".join(corrective) or "none"),
    )
    return True


def _retract(applier: _Applier, pk: int, event: dict[str, Any]) -> None:
    """Undo, in the trace tables, what an erroneous event asserted, where the state is still
    the one it set (a corrective event applied since keeps its own)."""
    conn = applier.conn
    kind, action = event.get("type"), event.get("action")
    step = cbv_term(event.get("bizStep"))
    named = contents_of(event)
    if kind == "AggregationEvent" and action == "ADD" and named is not None:
        if named.parent is None:
            return
        parent = conn.execute(
            select(containers.c.id).where(containers.c.sscc == named.parent)
        ).scalar()
        if parent is None:
            return
        for unit in named.units:
            conn.execute(
                update(units)
                .where(
                    units.c.gtin == unit.gtin,
                    units.c.serial == unit.serial,
                    units.c.parent_id == parent,
                )
                .values(parent_id=None)
            )
        for sscc, _ in named.ssccs:
            conn.execute(
                update(containers)
                .where(containers.c.sscc == sscc, containers.c.parent_id == parent)
                .values(parent_id=None)
            )
    elif kind == "ObjectEvent" and step == "shipping":
        shipment = conn.execute(select(shipments.c.id).where(shipments.c.event_pk == pk)).scalar()
        if shipment is not None:
            conn.execute(
                update(units).where(units.c.shipment_id == shipment).values(shipment_id=None)
            )
            conn.execute(
                update(containers)
                .where(containers.c.shipment_id == shipment)
                .values(shipment_id=None)
            )
    elif kind == "ObjectEvent" and action == "ADD" and step == "commissioning":
        conn.execute(
            update(units)
            .where(units.c.commission_event == pk, units.c.status == "active")
            .values(status="decommissioned", status_reason="error_declaration")
        )
    elif (
        kind == "ObjectEvent"
        and named is not None
        and (step in DECOMMISSIONING_STEPS or action == "DELETE")
    ):
        reason = step or "action DELETE"
        for unit in named.units:
            conn.execute(
                update(units)
                .where(
                    units.c.gtin == unit.gtin,
                    units.c.serial == unit.serial,
                    units.c.status != "active",
                    units.c.status_reason == reason,
                )
                .values(status="active", status_reason=None)
            )
    elif kind == "TransformationEvent":
        conn.execute(delete(batch_inputs).where(batch_inputs.c.event_pk == pk))
