"""Read side of the store: unit trace, container tree, batches, recall, verification.

Results are frozen dataclasses; the API turns them into JSON. Two query shapes come from
measurements at 10 M units:

* the unit trace is ONE recursive CTE from the unit up that carries the container columns
  up the chain (joining containers after the CTE made SQLite 500 times slower), and one
  statement for its events;
* the recall walks the tree level by level, one query per level with ``= ANY(array)`` on
  PostgreSQL and ``IN`` chunks on SQLite (PostgreSQL's row estimates for a recursive CTE
  were 1000x off and made the recursive recall 10 times slower).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    select,
    union_all,
)

from server.identifiers import UnitKey, sscc_key
from server.store.dialect import chunks
from server.store.schema import (
    batch_inputs,
    batch_lines,
    batches,
    containers,
    error_declarations,
    event_epcs,
    events,
    shipments,
    unit_events,
    unit_is,
    units,
)

MAX_DEPTH = 16  # nesting levels a trace follows (unit, case, pallet, ... far fewer in practice)
LEVEL_NAMES = {0: "container", 1: "case", 2: "pallet"}


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, f"level {level}")


@dataclass(frozen=True)
class ContainerRef:
    sscc: str
    level: str
    status: str


@dataclass(frozen=True)
class Shipment:
    id: int
    shipped_at: datetime
    destination: str | None
    customer: str | None
    biz_transaction: str | None
    ssccs: list[str]


@dataclass(frozen=True)
class EventSummary:
    event_id: str
    event_type: str
    event_time: datetime
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    site: str | None
    line: str | None


@dataclass(frozen=True)
class UnitTrace:
    gtin: str
    serial: str
    lot: str | None
    expiry: str | None
    status: str
    status_reason: str | None
    disposition: str | None
    batch_disposition: str | None
    parents: list[ContainerRef]  # innermost first: case, pallet, ...
    shipment: Shipment | None  # the unit's own, or its nearest shipped container's
    events: list[EventSummary]
    shipped_with: str | None = None  # SSCC that carried the shipment; None if the unit's own
    grade: dict[str, Any] | None = None  # print-quality grade at commissioning (JSON detail)
    names: dict[str, str] = field(default_factory=dict)  # URN -> master-data name


@dataclass(frozen=True)
class UnitRef:
    """A unit in an answer (an object in JSON; :class:`UnitKey` is a tuple)."""

    gtin: str
    serial: str


@dataclass(frozen=True)
class ContainerTree:
    sscc: str
    level: str
    status: str
    parent: str | None
    shipment: Shipment | None  # its own, or inherited from the nearest shipped container
    shipped_with: str | None  # SSCC whose shipment it inherited; None when shipped itself
    containers: list[ContainerTree]
    units: list[UnitRef]
    names: dict[str, str] = field(default_factory=dict)  # URN -> master-data name (top only)


@dataclass(frozen=True)
class BatchSummary:
    gtin: str
    lot: str
    expiry: str | None
    disposition: str
    first_seen: datetime
    recalled_at: datetime | None
    recall_reason: str | None
    counts: dict[str, int]
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw_material_lots: list[dict[str, Any]] = field(default_factory=list)


# -- unit trace ---------------------------------------------------------------------------


def _trace_query() -> Any:
    """The unit, its batch, the chain of containers above it and their shipments: ONE
    recursive CTE (depth 0 is the unit, 1 its case, 2 the pallet, ...) that carries the
    container columns up the chain, with the shipments joined to its few rows at the end.
    It replaces three statements (unit, chain, shipment; the events are the trace's second
    statement): each round trip cost PostgreSQL about 0.2 ms of overhead, more than a
    lookup by key."""
    unit_columns = (
        units.c.status_reason,
        units.c.grade_detail,
        units.c.disposition.label("unit_disposition"),
        batches.c.lot,
        batches.c.expiry,
        batches.c.disposition.label("batch_disposition"),
    )
    anchor = (
        select(
            literal(0).label("depth"),
            units.c.id,
            cast(null(), containers.c.sscc.type).label("sscc"),
            cast(null(), containers.c.level.type).label("level"),
            units.c.status,
            units.c.parent_id,
            units.c.shipment_id,
            *unit_columns,
        )
        .select_from(units.outerjoin(batches, batches.c.id == units.c.batch_id))
        .where(
            units.c.gtin == bindparam("gtin"),
            units.c.serial == bindparam("serial"),
            units.c.scheme == bindparam("scheme"),
        )
    )
    chain = anchor.cte("chain", recursive=True)
    step = select(
        (chain.c.depth + 1).label("depth"),
        containers.c.id,
        containers.c.sscc,
        containers.c.level,
        containers.c.status,
        containers.c.parent_id,
        containers.c.shipment_id,
        *(chain.c[column.name] for column in unit_columns),
    ).where(containers.c.id == chain.c.parent_id, chain.c.depth < MAX_DEPTH)
    chain = chain.union_all(step)
    shipment_columns = [column.label(f"ship_{column.name}") for column in shipments.c]
    # LEFT JOIN keeps the chain the outer loop (SQLite does not reorder it).
    return (
        select(chain, *shipment_columns)
        .select_from(chain.outerjoin(shipments, shipments.c.id == chain.c.shipment_id))
        .order_by(chain.c.depth)
    )


# The trace's statements, built once: building a statement and its cache key costs
# SQLAlchemy more than PostgreSQL takes to answer it.
_TRACE = _trace_query()
_SHIPMENT = select(shipments).where(shipments.c.id == bindparam("shipment_id"))
_EVENTS_NAMING = (
    select(
        events.c.event_id,
        events.c.event_type,
        events.c.event_time,
        events.c.action,
        events.c.biz_step,
        events.c.disposition,
        events.c.read_point,
        events.c.site,
        events.c.line,
    )
    .where(
        # An event declared erroneous (EPCIS errorDeclaration) no longer counts.
        ~exists().where(error_declarations.c.event_pk == events.c.pk),
        events.c.pk.in_(
            union_all(
                select(event_epcs.c.event_pk).where(
                    event_epcs.c.epc.in_(bindparam("keys", expanding=True))
                ),
                select(unit_events.c.event_pk).where(
                    unit_events.c.unit_id.in_(bindparam("unit_ids", expanding=True))
                ),
            )
        ),
    )
    .order_by(events.c.event_time, events.c.pk)
    .limit(bindparam("limit"))
)


def trace_unit(conn: Connection, unit: UnitKey) -> UnitTrace | None:
    """Everything QA asks about one unit, or None if it was never commissioned: two
    statements (the unit with its chain and shipment, then its events)."""
    rows = unit_chain(conn, unit)
    if not rows:
        return None
    row, chain = rows[0], rows[1:]
    shipped = next((link for link in rows if link.ship_id is not None), None)
    shipment = None if shipped is None else _shipment_of(shipped, "ship_")
    keys = [unit.key, *(sscc_key(link.sscc) for link in chain)]
    return UnitTrace(
        gtin=unit.gtin,
        serial=unit.serial,
        lot=row.lot,
        expiry=row.expiry,
        status=row.status,
        status_reason=row.status_reason,
        disposition="recalled" if row.batch_disposition == "recalled" else row.unit_disposition,
        batch_disposition=row.batch_disposition,
        parents=[ContainerRef(link.sscc, level_name(link.level), link.status) for link in chain],
        shipment=shipment,
        events=events_naming(conn, keys, [row.id]),
        shipped_with=None if shipped is None else shipped.sscc,
        grade=_grade_detail(row.grade_detail),
    )


def _grade_detail(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        detail = json.loads(text)
    except ValueError:
        return None
    return detail if isinstance(detail, dict) else None


@dataclass(frozen=True)
class GradeDistribution:
    """A batch's units by print-quality grade at commissioning: how many at each letter
    (A >= 3.5, B >= 2.5, C >= 1.5, D >= 0.5, F below), how many were not graded, the mean
    and the lowest grade."""

    gtin: str
    lot: str
    graded: int
    ungraded: int
    letters: dict[str, int]
    grades: dict[str, int]  # by grade to one decimal ("4.0": n)
    mean: float | None
    lowest: float | None


GRADE_LETTERS = (("A", 3.5), ("B", 2.5), ("C", 1.5), ("D", 0.5), ("F", 0.0))


def batch_grades(conn: Connection, gtin: str, lot: str) -> GradeDistribution | None:
    """One GROUP BY over the batch's units (their ``batch_id`` index); None if unknown."""
    batch = _batch_row(conn, gtin, lot)
    if batch is None:
        return None
    rows = conn.execute(
        select(units.c.grade, func.count())
        .where(units.c.batch_id == batch.id)
        .group_by(units.c.grade)
    ).all()
    letters = dict.fromkeys((name for name, _ in GRADE_LETTERS), 0)
    grades: dict[str, int] = {}
    graded = ungraded = 0
    total = 0.0
    lowest: float | None = None
    for grade, count in rows:
        if grade is None:
            ungraded += count
            continue
        value = float(grade)
        graded += count
        total += value * count
        lowest = value if lowest is None else min(lowest, value)
        key = f"{value:.1f}"
        grades[key] = grades.get(key, 0) + count
        letters[next(name for name, floor in GRADE_LETTERS if value >= floor)] += count
    return GradeDistribution(
        gtin=gtin,
        lot=lot,
        graded=graded,
        ungraded=ungraded,
        letters=letters,
        grades=dict(sorted(grades.items(), reverse=True)),
        mean=round(total / graded, 3) if graded else None,
        lowest=lowest,
    )


def unit_chain(conn: Connection, unit: UnitKey) -> Sequence[Any]:
    """The unit's row (depth 0) and its containers up to the outermost (depth 1, 2, ...),
    each with its batch's and shipment's columns; empty if the unit is unknown."""
    return conn.execute(
        _TRACE, {"gtin": unit.gtin, "serial": unit.serial, "scheme": unit.scheme}
    ).all()


def events_naming(
    conn: Connection, keys: Sequence[str], unit_ids: Sequence[int] = (), limit: int = 500
) -> list[EventSummary]:
    """Events that name any of the canonical ``keys`` or of the units ``unit_ids``, oldest
    first."""
    rows = conn.execute(
        _EVENTS_NAMING, {"keys": list(keys), "unit_ids": list(unit_ids), "limit": limit}
    )
    return [EventSummary(**row._mapping) for row in rows]


def _shipment(conn: Connection, shipment_id: int | None) -> Shipment | None:
    if shipment_id is None:
        return None
    row = conn.execute(_SHIPMENT, {"shipment_id": shipment_id}).first()
    return None if row is None else _shipment_of(row)


def _shipment_of(row: Any, prefix: str = "") -> Shipment:
    """A shipments row, or the shipment's columns named ``prefix`` + column name."""
    values = row._mapping
    return Shipment(
        id=values[f"{prefix}id"],
        shipped_at=values[f"{prefix}shipped_at"],
        destination=values[f"{prefix}destination"],
        customer=values[f"{prefix}customer"],
        biz_transaction=values[f"{prefix}biz_transaction"],
        ssccs=json.loads(values[f"{prefix}ssccs"]),
    )


# -- containers ---------------------------------------------------------------------------


def container_tree(conn: Connection, sscc: str, max_units: int = 100_000) -> ContainerTree | None:
    """The container and everything in it, level by level. A container that was not shipped
    itself carries the shipment of the nearest container above it that was (a case on a
    shipped pallet is shipped), named in ``shipped_with``."""
    row = conn.execute(select(containers).where(containers.c.sscc == sscc)).first()
    if row is None:
        return None
    parent = None
    inherited: tuple[Shipment, str] | None = None
    above = row.parent_id
    for _ in range(MAX_DEPTH):
        if above is None:
            break
        link = conn.execute(
            select(containers.c.sscc, containers.c.parent_id, containers.c.shipment_id).where(
                containers.c.id == above
            )
        ).first()
        if link is None:
            break
        if parent is None:
            parent = link.sscc
        if link.shipment_id is not None:
            shipment = _shipment(conn, link.shipment_id)
            if shipment is not None:
                inherited = (shipment, link.sscc)
                break
        above = link.parent_id
    return _tree(conn, row, parent, max_units, inherited)


def _tree(
    conn: Connection,
    row: Any,
    parent: str | None,
    max_units: int,
    inherited: tuple[Shipment, str] | None,
) -> ContainerTree:
    own = _shipment(conn, row.shipment_id)
    carried = (own, row.sscc) if own is not None else inherited
    children = conn.execute(
        select(containers).where(containers.c.parent_id == row.id).order_by(containers.c.sscc)
    ).all()
    unit_rows = conn.execute(
        select(units.c.gtin, units.c.serial)
        .where(units.c.parent_id == row.id)
        .order_by(units.c.gtin, units.c.serial)
        .limit(max_units)
    ).all()
    return ContainerTree(
        sscc=row.sscc,
        level=level_name(row.level),
        status=row.status,
        parent=parent,
        shipment=None if carried is None else carried[0],
        shipped_with=None if carried is None or own is not None else carried[1],
        containers=[_tree(conn, child, row.sscc, max_units, carried) for child in children],
        units=[UnitRef(gtin, serial) for gtin, serial in unit_rows],
    )


# -- batches ------------------------------------------------------------------------------


def list_batches(conn: Connection, *, limit: int, offset: int) -> list[BatchSummary]:
    rows = conn.execute(
        select(batches)
        .order_by(batches.c.first_seen.desc(), batches.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [_batch_summary(conn, row, detail=False) for row in rows]


def get_batch(conn: Connection, gtin: str, lot: str) -> BatchSummary | None:
    row = _batch_row(conn, gtin, lot)
    return None if row is None else _batch_summary(conn, row, detail=True)


def _batch_row(conn: Connection, gtin: str, lot: str) -> Any:
    return conn.execute(select(batches).where(batches.c.gtin == gtin, batches.c.lot == lot)).first()


def _batch_summary(conn: Connection, row: Any, *, detail: bool) -> BatchSummary:
    counts = {
        status: count
        for status, count in conn.execute(
            select(units.c.status, func.count())
            .where(units.c.batch_id == row.id)
            .group_by(units.c.status)
        )
    }
    lines: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    if detail:
        lines = [
            dict(line._mapping)
            for line in conn.execute(
                select(
                    batch_lines.c.site,
                    batch_lines.c.line,
                    batch_lines.c.commissioned,
                    batch_lines.c.first_at,
                    batch_lines.c.last_at,
                )
                .where(batch_lines.c.batch_id == row.id)
                .order_by(batch_lines.c.site, batch_lines.c.line)
            )
        ]
        inputs = [
            dict(item._mapping)
            for item in conn.execute(
                select(batch_inputs.c.input, batch_inputs.c.quantity, batch_inputs.c.uom)
                .where(batch_inputs.c.batch_id == row.id)
                .order_by(batch_inputs.c.id)
            )
        ]
    return BatchSummary(
        gtin=row.gtin,
        lot=row.lot,
        expiry=row.expiry,
        disposition=row.disposition,
        first_seen=row.first_seen,
        recalled_at=row.recalled_at,
        recall_reason=row.recall_reason,
        counts=counts,
        lines=lines,
        raw_material_lots=inputs,
    )


# -- recall reach -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentReach:
    """A shipment that carried units of a batch, and how many of them."""

    id: int
    shipped_at: str
    customer: str | None
    destination: str | None
    biz_transaction: str | None
    ssccs: list[str]
    units: int


@dataclass(frozen=True)
class Reach:
    """What a batch reached: THE recall reach, used by the API, the UI, drills and recalls.

    ``unit_rows``: (unit id, gtin, serial, status, parent id, shipment id or None), the
    shipment resolved as the unit trace resolves it: the unit's own, else its case's, else
    its pallet's (the nearest shipped level). ``containers``: id -> (sscc, level, parent id).
    ``shipments``: the shipments the units resolve to, oldest first, with their unit counts.
    """

    batch_id: int
    gtin: str
    lot: str
    unit_rows: list[tuple[int, str, str, str, int | None, int | None]]
    containers: dict[int, tuple[str, int, int | None]]
    shipments: list[ShipmentReach]

    @property
    def customers(self) -> list[str]:
        return sorted({s.customer or s.destination or "unknown" for s in self.shipments})

    def count_level(self, level: int) -> int:
        return sum(1 for _sscc, lvl, _parent in self.containers.values() if lvl == level)

    @property
    def shipped_units(self) -> int:
        return sum(1 for row in self.unit_rows if row[5] is not None)

    def container_at(self, parent_id: int | None, level: int) -> str | None:
        """The SSCC at ``level`` (1 case, 2 pallet) in the chain above ``parent_id``."""
        for _ in range(MAX_DEPTH):
            if parent_id is None or parent_id not in self.containers:
                return None
            sscc, found_level, parent_id = self.containers[parent_id]
            if found_level == level:
                return sscc
        return None


def batch_reach(conn: Connection, gtin: str, lot: str) -> Reach | None:
    """Every unit, container and shipment a batch reached (None if the batch is unknown):
    one statement for the units, then one per container level upwards."""
    batch = _batch_row(conn, gtin, lot)
    if batch is None:
        return None
    return reach_of_batch(conn, int(batch.id), batch.gtin, batch.lot)


def reach_of_batch(conn: Connection, batch_id: int, gtin: str, lot: str) -> Reach:
    """:func:`batch_reach` for a batch known by its row id."""
    # Up to hundreds of thousands of rows: unpacked by position (a Row's attribute access
    # by name costs several times more).
    rows = conn.execute(
        select(
            units.c.id,
            units.c.gtin,
            units.c.serial,
            units.c.status,
            units.c.parent_id,
            units.c.shipment_id,
        )
        .where(units.c.batch_id == batch_id)
        .order_by(units.c.id)
    ).all()
    found: dict[int, tuple[str, int, int | None]] = {}
    shipped_by: dict[int, int | None] = {}
    frontier = {parent for *_, parent, _ in rows if parent is not None}
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        next_frontier: set[int] = set()
        for row in _containers_by_id(conn, sorted(frontier)):
            found[row.id] = (row.sscc, row.level, row.parent_id)
            shipped_by[row.id] = row.shipment_id
            if row.parent_id is not None and row.parent_id not in found:
                next_frontier.add(row.parent_id)
        frontier = next_frontier - found.keys()

    resolved: dict[int, int | None] = {}

    def shipment_of(container_id: int | None) -> int | None:
        chain = []
        result = None
        for _ in range(MAX_DEPTH):
            if container_id is None or container_id not in found:
                break
            if container_id in resolved:
                result = resolved[container_id]
                break
            chain.append(container_id)
            own = shipped_by.get(container_id)
            if own is not None:
                result = own
                break
            container_id = found[container_id][2]
        for link in chain:
            resolved[link] = result
        return result

    unit_rows = [
        (
            int(unit_id),
            unit_gtin,
            serial,
            status,
            parent,
            own if own is not None else shipment_of(parent),
        )
        for unit_id, unit_gtin, serial, status, parent, own in rows
    ]
    per_shipment: dict[int, int] = {}
    for unit in unit_rows:
        if unit[5] is not None:
            per_shipment[unit[5]] = per_shipment.get(unit[5], 0) + 1
    shipment_list = []
    if per_shipment:
        for row in conn.execute(
            select(shipments)
            .where(shipments.c.id.in_(sorted(per_shipment)))
            .order_by(shipments.c.shipped_at, shipments.c.id)
        ):
            shipment_list.append(
                ShipmentReach(
                    id=row.id,
                    shipped_at=row.shipped_at.isoformat(),
                    customer=row.customer,
                    destination=row.destination,
                    biz_transaction=row.biz_transaction,
                    ssccs=json.loads(row.ssccs),
                    units=per_shipment[row.id],
                )
            )
    return Reach(batch_id, gtin, lot, unit_rows, found, shipment_list)


def _containers_by_id(conn: Connection, ids: list[int]) -> list[Any]:
    columns = (
        containers.c.id,
        containers.c.sscc,
        containers.c.level,
        containers.c.parent_id,
        containers.c.shipment_id,
    )
    if conn.dialect.name == "postgresql":
        query = select(*columns).where(
            containers.c.id == func.any(bindparam("ids", type_=_bigint_array()))
        )
        return list(conn.execute(query, {"ids": ids}))
    rows: list[Any] = []
    for part in chunks(ids):
        rows.extend(conn.execute(select(*columns).where(containers.c.id.in_(part))))
    return rows


def _bigint_array() -> Any:
    from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

    return ARRAY(BIGINT)


# -- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """An EU FMD-style answer about one pack (an outcome, never an exception)."""

    result: str  # active | decommissioned | recalled | expired | unknown | suspect
    gtin: str
    serial: str
    reason: str | None = None
    lot: str | None = None
    expiry: str | None = None


def verify_pack(
    conn: Connection, unit: UnitKey, *, lot: str | None, expiry: str | None, today: date
) -> Verification:
    row = conn.execute(
        select(
            units.c.status,
            units.c.status_reason,
            batches.c.lot,
            batches.c.expiry,
            batches.c.disposition,
        )
        .select_from(units.outerjoin(batches, batches.c.id == units.c.batch_id))
        .where(unit_is(unit))
    ).first()
    if row is None:
        return Verification("unknown", unit.gtin, unit.serial, "serial not on record")
    known = {"lot": row.lot, "expiry": row.expiry}
    if lot is not None and lot != row.lot:
        return Verification(
            "suspect", unit.gtin, unit.serial, f"lot {lot!r} does not match the record", **known
        )
    if expiry is not None and expiry != row.expiry:
        return Verification(
            "suspect",
            unit.gtin,
            unit.serial,
            f"expiry {expiry!r} does not match the record",
            **known,
        )
    if row.disposition == "recalled":
        return Verification("recalled", unit.gtin, unit.serial, "batch under recall", **known)
    if row.status != "active":
        return Verification(
            "decommissioned", unit.gtin, unit.serial, row.status_reason or row.status, **known
        )
    if row.expiry is not None and _expired(row.expiry, today):
        return Verification("expired", unit.gtin, unit.serial, f"expired on {row.expiry}", **known)
    return Verification("active", unit.gtin, unit.serial, None, **known)


def _expired(expiry: str, today: date) -> bool:
    """Whether an ISO expiry (day 00 = end of month) lies before ``today``."""
    year, month, day = (int(part) for part in expiry.split("-"))
    if day == 0:
        return (year, month) < (today.year, today.month)
    return date(year, month, day) < today


def utc_today() -> date:
    return datetime.now(UTC).date()
