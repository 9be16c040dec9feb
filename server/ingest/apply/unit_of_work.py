"""The unit of work: one group of documents applied in the caller's transaction.

:class:`UnitOfWork` holds what the group changes until it is written with one statement per
table (the MQTT consumer's group commit): the units being commissioned, the unit_events
references, the parents packing gives containers, the batch line counts, the alerts and
conflicts; and what it knows of the store (containers, unit ids and batches looked up or
created, an identity map, so that each is read once per group). :meth:`UnitOfWork.run`
stores the new events (:mod:`~server.ingest.apply.recording`), hands each to the handler of
its kind (commissioning first, then every other event in document order), writes the buffers,
applies again the events parked for the units just commissioned, then the error declarations.

The handlers (:mod:`~server.ingest.apply.object_events`,
:mod:`~server.ingest.apply.aggregation_events`,
:mod:`~server.ingest.apply.transformation_events`,
:mod:`~server.ingest.apply.error_declarations`) use the methods here to find and change
units and containers.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, exists, select, update

from server.identifiers import UnitKey
from server.ingest.apply import (
    aggregation_events,
    error_declarations,
    object_events,
    recording,
    transformation_events,
)
from server.ingest.apply.aggregation_events import not_moved_after
from server.ingest.prepare import Contents, Origin, PreparedDocument, PreparedEvent
from server.store.dialect import bulk_insert, chunks, insert_ignore, new_ids, upsert
from server.store.schema import (
    UtcDateTime,
    alerts,
    batch_lines,
    containers,
    event_bodies,
    event_conflicts,
    event_epcs,
    events,
    parked_events,
    parked_refs,
    unit_events,
    units,
)

CONTAINER_COLUMNS = ("id", "sscc", "epc", "level", "status", "site", "line", "created_at")
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
    "scheme",
)

_UNIT_ROW = itemgetter(*UNIT_COLUMNS)  # a pending unit's dict -> its row tuple, in C

# The handler of each event kind that changes the trace tables (every other kind, such as
# AssociationEvent and TransactionEvent, is stored and indexed but derives nothing: see
# docs/epcis.md, "What the server derives from events"). Commissioning is the object
# handler's too, but applied first, from what was prepared of it.
Handler = Callable[["UnitOfWork", int, dict[str, Any], datetime, Contents | None], None]
HANDLERS: dict[str, Handler] = {
    "ObjectEvent": object_events.derive,
    "AggregationEvent": aggregation_events.derive,
    "TransformationEvent": transformation_events.derive,
}


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


@dataclass
class Container:
    id: int
    level: int


@dataclass
class Document:
    """One document of the group and what applying it changed so far."""

    prepared: PreparedDocument
    event_ids: list[str] = field(default_factory=list)
    stored: int = 0
    commissioned: int = 0
    alerts: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class Fresh:
    """A newly stored event: its pk, row, document and what was prepared of it."""

    pk: int
    row: dict[str, Any]
    doc: int
    prepared: PreparedEvent

    @property
    def body(self) -> dict[str, Any]:
        return self.prepared.body


def apply_prepared(
    conn: Connection, documents: Sequence[PreparedDocument], *, now: datetime
) -> list[ApplyResult]:
    """Store and apply documents already prepared (:mod:`server.ingest.prepare`, which the
    MQTT receiver process runs ahead of the writer) in ``conn``'s transaction, with one
    statement per table for all of them; one result per document, in order."""
    return UnitOfWork(conn, now, [Document(document) for document in documents]).run()


@dataclass
class UnitOfWork:
    conn: Connection
    now: datetime
    docs: list[Document]
    doc: int = 0  # the document whose event is being applied
    pending: dict[UnitKey, dict[str, Any]] = field(default_factory=dict)
    batch_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    container_cache: dict[str, Container] = field(default_factory=dict)
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

    # -- the group ------------------------------------------------------------------------

    def run(self) -> list[ApplyResult]:
        rows, prepared, doc_of = recording.event_rows(self)
        new_pks = recording.store_events(self, rows, prepared, doc_of)
        fresh = [
            Fresh(new_pks[row["event_id"]], row, doc, event)
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
                object_events.commission(self, item.pk, item.prepared, item.row)
        for item in fresh:
            if item.prepared.commissioning is None:
                self.doc = item.doc
                self.derive(item.pk, item.body, item.row["event_time"], item.prepared.contents)
        commissioned = self._flush_units()
        if commissioned:
            self._resolve_parked(commissioned)
        self._flush_unit_refs()
        self.flush_container_parents()
        self._flush_batch_lines()
        if self.conflict_rows:
            self.conn.execute(event_conflicts.insert(), self.conflict_rows)
        error_declarations.declare_errors(self, new_pks)
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

    def derive(
        self,
        pk: int,
        event: dict[str, Any],
        event_time: datetime,
        named: Contents | None = None,
    ) -> None:
        """Apply an event other than a commissioning by the handler of its kind; ``named``:
        its :class:`Contents` if prepared (a parked event applied again has only its body)."""
        handler = HANDLERS.get(event.get("type") or "")
        if handler is not None:
            handler(self, pk, event, event_time, named)

    @property
    def origin(self) -> Origin:
        """Where the document being applied came from."""
        return self.docs[self.doc].prepared.origin

    def alert(self, kind: str, subject: str, event_id: str, detail: str) -> None:
        """Raise an alert of the document being applied (written with the group)."""
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

    def db_time(self, value: datetime) -> Any:
        """A timestamp in the driver's type (the column type's own conversion, so that it
        compares equal to what SQLAlchemy writes)."""
        return recording.timestamp_processor(self.conn.dialect)(value)

    def field_values(self, pk: int, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``event_fields`` rows of event ``pk`` in the driver's types."""
        to_db = self.db_time
        return [
            (pk, field, text, num, None if moment is None else to_db(moment))
            for field, text, num, moment in rows
        ]

    # -- units ------------------------------------------------------------------------------

    def update_units(self, pk: int, keys: Sequence[UnitKey], values: dict[str, Any]) -> None:
        """Set ``values`` on units in this group or in the store; park the rest."""
        stored: list[UnitKey] = []
        for unit in keys:
            row = self.pending.get(unit)
            if row is not None:
                row.update(values)
            else:
                stored.append(unit)
        if not stored:
            return
        ids, missing = self.find_units(stored)
        for part in chunks(ids):
            self.conn.execute(update(units).where(units.c.id.in_(part)).values(**values))
        if missing:
            self.park(pk, missing)

    def find_units(self, keys: Iterable[UnitKey]) -> tuple[list[int], list[UnitKey]]:
        """The ids of the stored units among ``keys``, and the keys not stored."""
        keys = list(keys)
        ids = [unit_id for _, unit_id, _ in self._stored_units(keys)]
        missing = [unit for unit in keys if unit not in self.unit_ids]
        return ids, missing

    def _stored_units(self, keys: Iterable[UnitKey]) -> Iterator[tuple[UnitKey, int, int]]:
        """(unit, id, commission event pk) of the stored units among ``keys``, one query per
        GTIN (code scheme and product) and chunk; their ids go to :attr:`unit_ids`."""
        by_gtin: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        for unit in keys:
            by_gtin[unit.gtin, unit.scheme].append(unit.serial)
        for (gtin, scheme), serials in by_gtin.items():
            for part in chunks(serials):
                query = select(units.c.id, units.c.serial, units.c.commission_event).where(
                    units.c.gtin == gtin, units.c.serial.in_(part), units.c.scheme == scheme
                )
                for unit_id, serial, event_pk in self.conn.execute(query):
                    unit = UnitKey(gtin, serial, scheme)
                    self.unit_ids[unit] = unit_id
                    yield unit, unit_id, event_pk

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
                self.alert(
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

    def _flush_unit_refs(self) -> None:
        """unit_events rows for the units the new events name; a unit not commissioned
        (yet) is named by its key text in event_epcs instead."""
        if not self.unit_refs:
            return
        unknown = list({unit for unit, _, _ in self.unit_refs if unit not in self.unit_ids})
        if unknown:
            self.find_units(unknown)  # records the ids of the stored ones
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
        bulk_insert(self.conn, event_epcs, recording.EPC_COLUMNS, text_rows)

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

    # -- containers -------------------------------------------------------------------------

    def container(self, sscc: str, epc: str) -> Container:
        """The container ``sscc`` (created, with level 0, if it is new)."""
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
        container = Container(int(row.id), int(row.level))
        self.container_cache[sscc] = container
        return container

    def flush_container_parents(self) -> None:
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
                    not_moved_after(containers.c.parent_at, bindparam("at", type_=UtcDateTime())),
                )
                .values(parent_id=bindparam("parent"), parent_at=bindparam("at")),
                rows,
            )

    def _prepare_containers(self, fresh: list[Fresh]) -> None:
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
        created_at = self.db_time(self.now)
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
                self.container_cache[sscc] = Container(container_id, levels.get(sscc, 0))
        else:  # some were created meanwhile: read every one back
            self._load_containers(new)

    def _load_containers(self, ssccs: Sequence[str]) -> None:
        for part in chunks(ssccs):
            query = select(containers.c.id, containers.c.sscc, containers.c.level).where(
                containers.c.sscc.in_(part)
            )
            for container_id, sscc, level in self.conn.execute(query):
                self.container_cache[sscc] = Container(int(container_id), int(level))

    # -- events waiting for units ---------------------------------------------------------

    def park(self, pk: int, missing: Sequence[UnitKey]) -> None:
        """Park event ``pk`` until the units ``missing`` are commissioned."""
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
            self.derive(pk, json.loads(body), event_time)
