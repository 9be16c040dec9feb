"""Genealogy both ways and the completeness check.

* forward from a batch is the store's one recall reach,
  :func:`server.store.queries.reach_of_batch`;
* :func:`backward`: from a unit, case, pallet or batch to its batch records and raw
  materials; :func:`forward_from_material`: from a raw-material lot to every batch it went
  into and everything those batches reached.
* :func:`completeness`: the gaps that keep a batch from being 100 % traceable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, or_, select

import gs1
from server.errors import NotFound
from server.identifiers import canonical, parse_sscc, unit_from_code
from server.qa.release import (
    BatchRecord,
    BatchRef,
    batch_by_id,
    batch_record,
    epcis_inputs,
    inspections,
    material_lots,
    production_record,
    reconciliation,
)
from server.qa.tables import qa_material_lots
from server.store.dialect import chunks
from server.store.queries import MAX_DEPTH, Reach, ShipmentReach, level_name, reach_of_batch
from server.store.schema import batch_inputs, batches, containers, unit_is, units

# -- completeness -------------------------------------------------------------------------


@dataclass(frozen=True)
class Completeness:
    gtin: str
    lot: str
    units: int
    gaps: list[str]

    @property
    def complete(self) -> bool:
        return not self.gaps


def completeness(conn: Connection, batch: BatchRef, reach: Reach | None = None) -> Completeness:
    """Gaps: no raw-material lots, no production record or counts that do not reconcile, no
    inspection results, active units with neither a parent container nor a shipment."""
    gaps = []
    if not material_lots(conn, batch.id) and not epcis_inputs(conn, batch.id):
        gaps.append("no raw-material lots recorded")
    if production_record(conn, batch.id) is None:
        gaps.append("no production record")
    else:
        balance = reconciliation(conn, batch.id)
        assert balance is not None
        if not balance.balanced:
            gaps.append(
                f"counts do not reconcile: produced {balance.produced}, commissioned "
                f"{balance.commissioned}, rejected {balance.rejected}, sampled "
                f"{balance.sampled}, scrapped {balance.scrapped} (difference "
                f"{balance.difference})"
            )
    if not inspections(conn, batch.id):
        gaps.append("no inspection results")
    if reach is None:
        orphans = conn.execute(
            select(func.count())
            .select_from(units)
            .where(
                units.c.batch_id == batch.id,
                units.c.status == "active",
                units.c.parent_id.is_(None),
                units.c.shipment_id.is_(None),
            )
        ).scalar_one()
        total = conn.execute(
            select(func.count()).select_from(units).where(units.c.batch_id == batch.id)
        ).scalar_one()
    else:
        orphans = sum(
            1 for row in reach.unit_rows if row[3] == "active" and row[4] is None and row[5] is None
        )
        total = len(reach.unit_rows)
    if orphans:
        gaps.append(f"{orphans} active units have neither a parent container nor a shipment")
    return Completeness(batch.gtin, batch.lot, int(total), gaps)


def incomplete_batches(conn: Connection) -> list[Completeness]:
    """Every batch that is not 100 % traceable, oldest first."""
    report = []
    for row in conn.execute(select(batches.c.id).order_by(batches.c.first_seen, batches.c.id)):
        result = completeness(conn, batch_by_id(conn, int(row.id)))
        if not result.complete:
            report.append(result)
    return report


# -- backward and forward -----------------------------------------------------------------


@dataclass(frozen=True)
class BackwardTrace:
    subject: str  # what was asked: unit, container or batch, as canonical text
    kind: str  # unit | case | pallet | container | batch
    containers: list[dict[str, Any]]  # for a unit: its chain upwards
    batches: list[BatchRecord]


@dataclass(frozen=True)
class BatchForward:
    gtin: str
    lot: str
    units: int
    shipped_units: int
    cases: int
    pallets: int
    shipments: list[ShipmentReach]
    customers: list[str]


@dataclass(frozen=True)
class ForwardTrace:
    material_lot: str
    batches: list[BatchForward] = field(default_factory=list)

    @property
    def customers(self) -> list[str]:
        return sorted({c for batch in self.batches for c in batch.customers})


def backward(conn: Connection, code: str) -> BackwardTrace:
    """From a unit (any code form), an SSCC (any code form) or ``GTIN/LOT`` back to the
    batch records and raw materials; raises :class:`NotFound` or ``ValueError``."""
    unit = unit_from_code(code)
    if unit is not None:
        row = conn.execute(select(units.c.batch_id, units.c.parent_id).where(unit_is(unit))).first()
        if row is None or row.batch_id is None:
            raise NotFound(f"code: unit GTIN {unit.gtin} serial {unit.serial!r} not on record")
        chain = chain_up(conn, row.parent_id)
        batch = batch_by_id(conn, int(row.batch_id))
        return BackwardTrace(
            f"(01){unit.gtin}(21){unit.serial}",
            "unit",
            chain,
            [batch_record(conn, batch.gtin, batch.lot)],
        )
    sscc = sscc_of(code)
    if sscc is not None:
        top = conn.execute(
            select(containers.c.id, containers.c.level, containers.c.parent_id).where(
                containers.c.sscc == sscc
            )
        ).first()
        if top is None:
            raise NotFound(f"code: SSCC {sscc} not on record")
        batch_ids = _batches_below(conn, int(top.id))
        return BackwardTrace(
            f"(00){sscc}",
            level_name(top.level),
            chain_up(conn, top.parent_id),
            [batch_record(conn, b.gtin, b.lot) for b in (batch_by_id(conn, i) for i in batch_ids)],
        )
    gtin, sep, lot = code.partition("/")
    if sep and lot:
        try:
            value = gs1.Gtin.parse(gtin).value
        except gs1.Gs1Error as exc:
            raise ValueError(f"code: {exc}") from exc
        record = batch_record(conn, value, lot)
        return BackwardTrace(f"(01){value}(10){lot}", "batch", [], [record])
    raise ValueError(
        f"code: expected a unit code (GTIN + serial), an SSCC or GTIN/LOT, got {code!r}"
    )


def forward_from_material(conn: Connection, material_lot: str) -> ForwardTrace:
    """Every batch that consumed ``material_lot`` (a supplier lot recorded by QA; or an input
    of a TransformationEvent: its lot number, or its LGTIN URI / element string), and what
    each of those batches reached."""
    ids = {
        int(row.batch_id)
        for row in conn.execute(
            select(qa_material_lots.c.batch_id).where(
                qa_material_lots.c.supplier_lot == material_lot
            )
        )
    }
    ids |= {
        int(row.batch_id)
        for row in conn.execute(
            select(batch_inputs.c.batch_id).where(
                or_(
                    batch_inputs.c.input == canonical(material_lot),
                    batch_inputs.c.input.endswith("(10)" + material_lot, autoescape=True),
                )
            )
        )
    }
    if not ids:
        raise NotFound(f"material_lot: {material_lot!r} is not recorded for any batch")
    result = ForwardTrace(material_lot)
    for batch_id in sorted(ids):
        batch = batch_by_id(conn, batch_id)
        reach = reach_of_batch(conn, batch.id, batch.gtin, batch.lot)
        result.batches.append(
            BatchForward(
                gtin=reach.gtin,
                lot=reach.lot,
                units=len(reach.unit_rows),
                shipped_units=reach.shipped_units,
                cases=reach.count_level(1),
                pallets=reach.count_level(2),
                shipments=reach.shipments,
                customers=reach.customers,
            )
        )
    return result


def batches_for_material(conn: Connection, material_lot: str) -> list[BatchRef]:
    trace = forward_from_material(conn, material_lot)
    out = []
    for item in trace.batches:
        row = conn.execute(
            select(batches.c.id).where(batches.c.gtin == item.gtin, batches.c.lot == item.lot)
        ).scalar_one()
        out.append(BatchRef(int(row), item.gtin, item.lot))
    return out


def sscc_of(code: str) -> str | None:
    text = code.strip()
    if text.isdigit() and len(text) == 18:
        try:
            return gs1.Sscc.parse(text).value
        except gs1.Gs1Error:
            return None
    found = parse_sscc(text)
    if found is not None:
        return found
    if text.startswith("(00)") or text.startswith("00"):
        digits = text.removeprefix("(00)") if text.startswith("(00)") else text[2:]
        if len(digits) == 18 and digits.isdigit():
            try:
                return gs1.Sscc.parse(digits).value
            except gs1.Gs1Error:
                return None
    return None


def chain_up(conn: Connection, container_id: int | None) -> list[dict[str, Any]]:
    chain = []
    for _ in range(MAX_DEPTH):
        if container_id is None:
            break
        row = conn.execute(
            select(
                containers.c.sscc,
                containers.c.level,
                containers.c.parent_id,
                containers.c.shipment_id,
            ).where(containers.c.id == container_id)
        ).first()
        if row is None:
            break
        chain.append(
            {"sscc": row.sscc, "level": level_name(row.level), "shipment_id": row.shipment_id}
        )
        container_id = row.parent_id
    return chain


def _batches_below(conn: Connection, container_id: int) -> list[int]:
    ids = [container_id]
    frontier = [container_id]
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        children: list[int] = []
        for part in chunks(frontier):
            children.extend(
                int(v)
                for v in conn.execute(
                    select(containers.c.id).where(containers.c.parent_id.in_(part))
                ).scalars()
            )
        ids.extend(children)
        frontier = children
    found: set[int] = set()
    for part in chunks(ids):
        found.update(
            int(v)
            for v in conn.execute(
                select(units.c.batch_id)
                .where(units.c.parent_id.in_(part), units.c.batch_id.is_not(None))
                .distinct()
            ).scalars()
        )
    return sorted(found)
