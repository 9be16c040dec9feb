"""Batches: list, summary, recall set (JSON or CSV) and putting a batch under recall.

The lot is one percent-encoded path segment: any GS1 CSET 82 lot works, ``/`` included
(``%2F``; see :mod:`server.api.paths`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, or_, select, update

import server.api.paths  # noqa: F401  (the gs1text path convertor)
from server import audit
from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn, Reader
from server.api.routes.units import parse_gtin
from server.masterdata import names_for
from server.store import write_transaction
from server.store.dialect import chunks
from server.store.queries import (
    BatchSummary,
    GradeDistribution,
    Reach,
    batch_grades,
    batch_reach,
    get_batch,
    level_name,
    list_batches,
)
from server.store.schema import batches, containers, event_fields, events, unit_events, units

router = APIRouter(prefix="/batches", tags=["batches"])

Lot = Annotated[str, Field(min_length=1, max_length=20)]


@router.get("")
def batches_list(
    conn: ReadConn,
    _user: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[BatchSummary]:
    """Batches, newest first, with unit counts by status."""
    return list_batches(conn, limit=limit, offset=offset)


@router.get("/{gtin}/{lot:gs1text}", responses={404: {"description": "batch unknown"}})
def batch_detail(gtin: str, lot: str, conn: ReadConn, _user: Reader) -> BatchSummary:
    """Counts by status, lines with their counts and dates, raw-material lots."""
    summary = get_batch(conn, parse_gtin(gtin), lot)
    if summary is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    return summary


@router.get("/{gtin}/{lot:gs1text}/grades", responses={404: {"description": "batch unknown"}})
def batch_grade_distribution(
    gtin: str, lot: str, conn: ReadConn, _user: Reader
) -> GradeDistribution:
    """The batch's units by ISO/IEC 15415 grade at commissioning (letters, grades, mean)."""
    distribution = batch_grades(conn, parse_gtin(gtin), lot)
    if distribution is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    return distribution


@dataclass(frozen=True)
class RecallUnit:
    """One unit of the recall reach with where it went: its case, its pallet, the shipment
    it left in (its own or a container's) and that shipment's customer and ship-to."""

    gtin: str
    serial: str
    status: str
    case: str | None
    pallet: str | None
    shipment_id: int | None
    customer: str | None
    customer_name: str | None
    destination: str | None
    destination_name: str | None


@dataclass(frozen=True)
class RecallContainer:
    sscc: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class RecallShipment:
    id: int
    shipped_at: str
    customer: str | None
    customer_name: str | None
    destination: str | None
    destination_name: str | None
    biz_transaction: str | None
    ssccs: list[str]
    units: int


@dataclass(frozen=True)
class RecallSet:
    """The batch's recall reach (:func:`server.store.queries.batch_reach`) as an answer."""

    gtin: str
    lot: str
    units: list[RecallUnit]
    containers: list[RecallContainer]
    shipments: list[RecallShipment]
    customers: list[str]


def recall_view(conn: Connection, reach: Reach) -> RecallSet:
    """Names from master data for the customers and ship-to locations."""
    names = names_for(conn, [u for s in reach.shipments for u in (s.customer, s.destination)])
    shipments = {
        s.id: RecallShipment(
            id=s.id,
            shipped_at=s.shipped_at,
            customer=s.customer,
            customer_name=names.get(s.customer or ""),
            destination=s.destination,
            destination_name=names.get(s.destination or ""),
            biz_transaction=s.biz_transaction,
            ssccs=s.ssccs,
            units=s.units,
        )
        for s in reach.shipments
    }
    units = []
    for _id, gtin, serial, unit_status, parent, shipment_id in reach.unit_rows:
        shipment = shipments.get(shipment_id) if shipment_id is not None else None
        units.append(
            RecallUnit(
                gtin=gtin,
                serial=serial,
                status=unit_status,
                case=reach.container_at(parent, 1),
                pallet=reach.container_at(parent, 2),
                shipment_id=shipment_id,
                customer=None if shipment is None else shipment.customer,
                customer_name=None if shipment is None else shipment.customer_name,
                destination=None if shipment is None else shipment.destination,
                destination_name=None if shipment is None else shipment.destination_name,
            )
        )
    containers = sorted(
        (
            RecallContainer(
                sscc,
                level_name(level),
                reach.containers[parent][0] if parent in reach.containers else None,
            )
            for sscc, level, parent in reach.containers.values()
        ),
        key=lambda container: container.sscc,
    )
    customers = sorted(
        {
            names.get(s.customer or s.destination or "", s.customer or s.destination or "unknown")
            for s in reach.shipments
        }
    )
    return RecallSet(reach.gtin, reach.lot, units, containers, list(shipments.values()), customers)


@router.get(
    "/{gtin}/{lot:gs1text}/recall",
    response_model=RecallSet,
    responses={200: {"content": {"text/csv": {}}}, 404: {"description": "batch unknown"}},
)
def recall_reach(
    gtin: str,
    lot: str,
    conn: ReadConn,
    _user: QaUser,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> RecallSet | Response:
    """Every unit the batch reached with its case, pallet, shipment and customer; the
    cases and pallets; the shipments with their customers (names from master data)."""
    reach = batch_reach(conn, parse_gtin(gtin), lot)
    if reach is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    view = recall_view(conn, reach)
    if format == "csv":
        return Response(
            recall_csv(view),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="recall-{reach.gtin}.csv"'},
        )
    return view


CSV_COLUMNS = (
    "unit",
    "gtin",
    "serial",
    "status",
    "case",
    "pallet",
    "shipment",
    "shipped_at",
    "customer",
    "customer_name",
    "ship_to",
    "ship_to_name",
)


def recall_csv(view: RecallSet) -> str:
    """One row per unit: the unit, its case, pallet, shipment and customer (URN and name)
    and the ship-to location. Cells never start with ``= + - @`` (spreadsheet formulas)."""
    shipped_at = {s.id: s.shipped_at for s in view.shipments}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for unit in view.units:
        writer.writerow(
            [
                _cell(value)
                for value in (
                    f"(01){unit.gtin}(21){unit.serial}",
                    unit.gtin,
                    unit.serial,
                    unit.status,
                    unit.case,
                    unit.pallet,
                    unit.shipment_id,
                    shipped_at.get(unit.shipment_id) if unit.shipment_id is not None else None,
                    unit.customer,
                    unit.customer_name,
                    unit.destination,
                    unit.destination_name,
                )
            ]
        )
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class RecallRequest(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


@router.post("/{gtin}/{lot:gs1text}/recall", responses={404: {"description": "batch unknown"}})
def put_under_recall(
    gtin: str, lot: str, body: RecallRequest, request: Request, user: QaUser
) -> BatchSummary:
    """Set the batch's disposition to ``recalled`` (recorded in the audit trail)."""
    value = parse_gtin(gtin)
    now = datetime.now(UTC)
    with write_transaction(services_of(request).engine) as conn:
        row = conn.execute(
            select(batches.c.id, batches.c.disposition, batches.c.recall_reason).where(
                batches.c.gtin == value, batches.c.lot == lot
            )
        ).first()
        if row is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown"
            )
        if row.disposition != "recalled":
            conn.execute(
                update(batches)
                .where(batches.c.id == row.id)
                .values(disposition="recalled", recalled_at=now, recall_reason=body.reason)
            )
            audit.append(
                conn,
                actor=user.username,
                action="recall",
                entity="batch",
                entity_key=f"(01){value}(10){lot}",
                old_value={"disposition": row.disposition},
                new_value={"disposition": "recalled"},
                reason=body.reason,
                now=now,
            )
        summary = get_batch(conn, value, lot)
    assert summary is not None
    return summary


# -- the batch's units, one page at a time ------------------------------------------------


@dataclass(frozen=True)
class BatchUnit:
    gtin: str
    serial: str
    status: str
    case: str | None
    pallet: str | None


@dataclass(frozen=True)
class BatchUnitPage:
    total: int  # units that pass the filters
    limit: int
    offset: int
    sort: str
    order: str
    items: list[BatchUnit]


UNIT_SORTS = ("serial", "status", "case", "pallet")


@router.get("/{gtin}/{lot:gs1text}/units", responses={404: {"description": "batch unknown"}})
def batch_units(
    gtin: str,
    lot: str,
    conn: ReadConn,
    _user: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort: Annotated[Literal["serial", "status", "case", "pallet"], Query()] = "serial",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    unit_status: Annotated[
        str | None, Query(alias="status", max_length=16, description="only this status")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=20, description="serial, case or pallet SSCC starts with")
    ] = None,
) -> BatchUnitPage:
    """The batch's units with their case and pallet: one page, sorted and filtered in the
    store (a batch of 100 000 units is never sent whole)."""
    value = parse_gtin(gtin)
    batch_id = conn.execute(
        select(batches.c.id).where(batches.c.gtin == value, batches.c.lot == lot)
    ).scalar()
    if batch_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    case = containers.alias("case_")
    pallet = containers.alias("pallet_")
    joined = units.outerjoin(case, case.c.id == units.c.parent_id).outerjoin(
        pallet, pallet.c.id == case.c.parent_id
    )
    conditions = [units.c.batch_id == batch_id]
    if unit_status:
        conditions.append(units.c.status == unit_status)
    if q:
        prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                units.c.serial.like(prefix, escape="\\"),
                case.c.sscc.like(prefix, escape="\\"),
                pallet.c.sscc.like(prefix, escape="\\"),
            )
        )
    total = conn.execute(select(func.count()).select_from(joined).where(*conditions)).scalar_one()
    key = {
        "serial": units.c.serial,
        "status": units.c.status,
        "case": case.c.sscc,
        "pallet": pallet.c.sscc,
    }[sort]
    ordered = key.desc() if order == "desc" else key.asc()
    rows = conn.execute(
        select(units.c.gtin, units.c.serial, units.c.status, case.c.sscc, pallet.c.sscc)
        .select_from(joined)
        .where(*conditions)
        .order_by(ordered, units.c.serial.desc() if order == "desc" else units.c.serial)
        .limit(limit)
        .offset(offset)
    ).all()
    return BatchUnitPage(
        total=int(total),
        limit=limit,
        offset=offset,
        sort=sort,
        order=order,
        items=[BatchUnit(*row) for row in rows],
    )


@dataclass(frozen=True)
class RejectCount:
    status: str  # decommissioned | destroyed | inactive ...
    reason: str  # the event's reason (CBV disposition or errorReason), "unspecified" if none
    units: int


@router.get("/{gtin}/{lot:gs1text}/rejects", responses={404: {"description": "batch unknown"}})
def batch_rejects(gtin: str, lot: str, conn: ReadConn, _user: Reader) -> list[RejectCount]:
    """The batch's units that left the active state, by status and reason, most first (the
    batch page's "rejects by reason" chart)."""
    value = parse_gtin(gtin)
    batch_id = conn.execute(
        select(batches.c.id).where(batches.c.gtin == value, batches.c.lot == lot)
    ).scalar()
    if batch_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    left = conn.execute(
        select(units.c.id, units.c.status, units.c.status_reason).where(
            units.c.batch_id == batch_id, units.c.status != "active"
        )
    ).all()
    # The reason the line gave (the decommissioning event's ``serialtrace:reason`` or any
    # extension field named ``reason``), else the business step the unit left with.
    given: dict[int, str] = {}
    for part in chunks([row.id for row in left]):
        for unit_id, reason in conn.execute(
            select(unit_events.c.unit_id, event_fields.c.text)
            .join(events, events.c.pk == unit_events.c.event_pk)
            .join(event_fields, event_fields.c.event_pk == events.c.pk)
            .where(
                unit_events.c.unit_id.in_(part),
                events.c.action == "DELETE",
                event_fields.c.field.like("x:%reason"),
            )
            .order_by(events.c.event_time, events.c.pk)
        ):
            if reason:
                given[unit_id] = reason
    tally: dict[tuple[str, str], int] = {}
    for unit_id, row_status, step in left:
        key = (row_status, given.get(unit_id) or step or "unspecified")
        tally[key] = tally.get(key, 0) + 1
    counts = [RejectCount(key[0], key[1], count) for key, count in tally.items()]
    return sorted(counts, key=lambda item: (-item.units, item.status, item.reason))
