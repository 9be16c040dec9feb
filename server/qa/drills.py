"""Mock-recall drills: a full backward and forward trace of one batch, timed, with the
completeness check and the report, kept in ``qa_drills`` to list results over time."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from server.errors import NotFound
from server.qa import reports
from server.qa.genealogy import completeness
from server.qa.release import BatchRef, batch_by_id, batch_record
from server.qa.tables import qa_drills, qa_material_lots
from server.store.queries import reach_of_batch
from server.store.schema import batches, units


@dataclass(frozen=True)
class DrillResult:
    id: int | None
    gtin: str
    lot: str
    started_at: str
    run_by: str
    seconds: float
    timings: dict[str, float]  # phase -> seconds: backward, forward, completeness, report
    counts: dict[str, int]
    material_lots: list[dict[str, Any]]
    other_batches_sharing_material: list[str]
    customers: list[str]
    gaps: list[str]
    complete: bool
    status: str
    shipments: list[dict[str, Any]] = field(default_factory=list)


def pick_random_batch(conn: Connection, rng: random.Random | None = None) -> BatchRef:
    ids = list(
        conn.execute(
            select(units.c.batch_id).where(units.c.batch_id.is_not(None)).distinct()
        ).scalars()
    )
    if not ids:
        raise NotFound("batch: no batch with units on record to drill")
    return batch_by_id(conn, int((rng or random.Random()).choice(sorted(ids))))


def run_drill(conn: Connection, batch: BatchRef, *, run_by: str, now: datetime) -> DrillResult:
    """Trace, check, render the report (HTML and PDF), store and return the result."""
    timings: dict[str, float] = {}
    start = time.perf_counter()

    mark = time.perf_counter()
    record = batch_record(conn, batch.gtin, batch.lot)
    supplier_lots = [lot.supplier_lot for lot in record.material_lots]
    sharing: list[str] = []
    if supplier_lots:
        sharing = [
            f"(01){row.gtin}(10){row.lot}"
            for row in conn.execute(
                select(batches.c.gtin, batches.c.lot)
                .where(
                    batches.c.id.in_(
                        select(qa_material_lots.c.batch_id).where(
                            qa_material_lots.c.supplier_lot.in_(supplier_lots),
                            qa_material_lots.c.batch_id != batch.id,
                        )
                    )
                )
                .order_by(batches.c.gtin, batches.c.lot)
            )
        ]
    timings["backward"] = time.perf_counter() - mark

    mark = time.perf_counter()
    reach = reach_of_batch(conn, batch.id, batch.gtin, batch.lot)
    timings["forward"] = time.perf_counter() - mark

    mark = time.perf_counter()
    check = completeness(conn, batch, reach)
    timings["completeness"] = time.perf_counter() - mark

    counts = {
        "units": len(reach.unit_rows),
        "shipped_units": reach.shipped_units,
        "cases": reach.count_level(1),
        "pallets": reach.count_level(2),
        "shipments": len(reach.shipments),
        "customers": len(reach.customers),
        "material_lots": len(record.material_lots) + len(record.epcis_inputs),
        "inspections": len(record.inspections),
    }
    result = DrillResult(
        id=None,
        gtin=batch.gtin,
        lot=batch.lot,
        started_at=now.isoformat(),
        run_by=run_by,
        seconds=0.0,
        timings=timings,
        counts=counts,
        material_lots=[
            {
                "material": lot.material,
                "supplier": lot.supplier,
                "supplier_lot": lot.supplier_lot,
                "received_at": lot.received_at.isoformat(),
            }
            for lot in record.material_lots
        ]
        + [
            {"material": item["input"], "supplier": "", "supplier_lot": "", "received_at": ""}
            for item in record.epcis_inputs
        ],
        other_batches_sharing_material=sharing,
        customers=reach.customers,
        gaps=check.gaps,
        complete=check.complete,
        status=record.status.value,
        shipments=[asdict(s) for s in reach.shipments],
    )

    mark = time.perf_counter()
    reports.drill_html(result)
    reports.drill_pdf(result)
    timings["report"] = time.perf_counter() - mark
    total = time.perf_counter() - start
    stored = DrillResult(**{**asdict(result), "seconds": total, "timings": timings})
    drill_id = conn.execute(
        qa_drills.insert().returning(qa_drills.c.id),
        {
            "batch_id": batch.id,
            "started_at": now,
            "run_by": run_by,
            "seconds": total,
            "complete": 1 if stored.complete else 0,
            "result": json.dumps(asdict(stored)),
        },
    ).scalar_one()
    return DrillResult(**{**asdict(stored), "id": int(drill_id)})


def get_drill(conn: Connection, drill_id: int) -> DrillResult:
    row = conn.execute(
        select(qa_drills.c.id, qa_drills.c.result).where(qa_drills.c.id == drill_id)
    ).first()
    if row is None:
        raise NotFound(f"drill: id {drill_id} unknown")
    return DrillResult(**{**json.loads(row.result), "id": int(row.id)})


@dataclass(frozen=True)
class DrillSummary:
    id: int
    gtin: str
    lot: str
    started_at: datetime
    run_by: str
    seconds: float
    complete: bool


def list_drills(conn: Connection, *, limit: int = 100, offset: int = 0) -> list[DrillSummary]:
    rows = conn.execute(
        select(
            qa_drills.c.id,
            batches.c.gtin,
            batches.c.lot,
            qa_drills.c.started_at,
            qa_drills.c.run_by,
            qa_drills.c.seconds,
            qa_drills.c.complete,
        )
        .select_from(qa_drills.join(batches, batches.c.id == qa_drills.c.batch_id))
        .order_by(qa_drills.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        DrillSummary(
            id=row.id,
            gtin=row.gtin,
            lot=row.lot,
            started_at=row.started_at,
            run_by=row.run_by,
            seconds=row.seconds,
            complete=bool(row.complete),
        )
        for row in rows
    ]


def drill_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(qa_drills)).scalar_one())
