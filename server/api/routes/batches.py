"""Batches: list, summary, recall set (JSON or CSV) and putting a batch under recall.

The lot is one percent-encoded path segment: any GS1 CSET 82 lot works, ``/`` included
(``%2F``; see :mod:`server.api.paths`)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select, update

import server.api.paths  # noqa: F401  (the gs1text path convertor)
from server import audit
from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn, Reader
from server.api.routes.units import parse_gtin
from server.store import write_transaction
from server.store.queries import (
    BatchSummary,
    GradeDistribution,
    RecallSet,
    batch_grades,
    get_batch,
    list_batches,
    recall_set,
)
from server.store.schema import batches

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


@router.get("/{gtin}/{lot}/grades", responses={404: {"description": "batch unknown"}})
def batch_grade_distribution(
    gtin: str, lot: str, conn: ReadConn, _user: Reader
) -> GradeDistribution:
    """The batch's units by ISO/IEC 15415 grade at commissioning (letters, grades, mean)."""
    distribution = batch_grades(conn, parse_gtin(gtin), lot)
    if distribution is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    return distribution


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
    """Every unit, case, pallet, shipment and destination the batch reached."""
    reach = recall_set(conn, parse_gtin(gtin), lot)
    if reach is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"batch: GTIN {gtin} lot {lot!r} unknown")
    if format == "csv":
        return Response(recall_csv(reach), media_type="text/csv")
    return reach


def recall_csv(reach: RecallSet) -> str:
    """One row per object: kind, identifier, level/status, parent, shipment, destination."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "id", "detail", "parent", "shipped_at", "destination", "customer"])
    for gtin, serial, unit_status in reach.units:
        writer.writerow(["unit", f"(01){gtin}(21){serial}", unit_status, "", "", "", ""])
    for sscc, level, parent in reach.containers:
        writer.writerow(["container", sscc, level, parent or "", "", "", ""])
    for shipment in reach.shipments:
        writer.writerow(
            [
                "shipment",
                shipment.id,
                " ".join(shipment.ssccs),
                "",
                shipment.shipped_at.isoformat(),
                shipment.destination or "",
                shipment.customer or "",
            ]
        )
    return out.getvalue()


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
