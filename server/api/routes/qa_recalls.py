"""Recalls: open (frozen reach), status with live effectiveness, returns, notification
list (CSV and PDF), close. Every step is audited."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn
from server.api.routes.qa_common import QaClock, RowId, http_errors
from server.api.routes.units import parse_gtin
from server.qa import recalls, release, reports
from server.store import write_transaction

router = APIRouter(prefix="/qa/recalls", tags=["qa: recalls"])
Reason = Annotated[str, Field(min_length=3, max_length=2000)]


class BatchIn(BaseModel):
    gtin: Annotated[str, Field(min_length=8, max_length=14)]
    lot: Annotated[str, Field(min_length=1, max_length=20)]


class RecallIn(BaseModel):
    batches: list[BatchIn] = Field(default_factory=list, max_length=100)
    material_lot: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    recall_class: Literal["I", "II", "III"]
    reason: Reason

    @model_validator(mode="after")
    def _scope(self) -> RecallIn:
        if not self.batches and self.material_lot is None:
            raise ValueError("batches: expected at least one batch or a material_lot, got none")
        return self


class ReturnsIn(BaseModel):
    codes: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=512)]],
        Field(min_length=1, max_length=10_000),
    ]


class CloseIn(BaseModel):
    reason: Reason


@router.post("", status_code=201, responses={404: {"description": "batch or lot unknown"}})
def open_recall(
    body: RecallIn, request: Request, user: QaUser, clock: QaClock
) -> recalls.RecallStatus:
    """Compute the affected units, cases, pallets, shipments and customers and freeze them;
    the batches' disposition becomes ``recalled``."""
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        refs = [release.find_batch(conn, parse_gtin(b.gtin), b.lot) for b in body.batches]
        recall_id = recalls.open_recall(
            conn,
            batch_refs=refs,
            material_lot=body.material_lot,
            recall_class=recalls.RecallClass(body.recall_class),
            reason=body.reason,
            user=user,
            now=clock.now(),
        )
        return recalls.recall_status(conn, recall_id)


@router.get("")
def list_recalls(conn: ReadConn, _user: QaUser) -> list[recalls.RecallStatus]:
    return recalls.list_recalls(conn)


@router.get("/{recall_id}", responses={404: {"description": "recall unknown"}})
def get_recall(recall_id: RowId, conn: ReadConn, _user: QaUser) -> recalls.RecallStatus:
    """Counts, customers and effectiveness (returned shipped units / shipped units), live."""
    with http_errors():
        return recalls.recall_status(conn, recall_id)


@router.post("/{recall_id}/returns", responses={409: {"description": "recall closed"}})
def post_returns(
    recall_id: RowId, body: ReturnsIn, request: Request, user: QaUser, clock: QaClock
) -> list[recalls.ReturnOutcome]:
    """Returned units, scanned or typed in any code form; each gets an outcome."""
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        return recalls.record_returns(conn, recall_id, body.codes, user=user, now=clock.now())


@router.post("/{recall_id}/close", responses={409: {"description": "already closed"}})
def close(
    recall_id: RowId, body: CloseIn, request: Request, user: QaUser, clock: QaClock
) -> recalls.RecallStatus:
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        recalls.close_recall(conn, recall_id, user=user, reason=body.reason, now=clock.now())
        return recalls.recall_status(conn, recall_id)


@router.get("/{recall_id}/notifications.csv", responses={200: {"content": {"text/csv": {}}}})
def notifications_csv(recall_id: RowId, conn: ReadConn, _user: QaUser) -> Response:
    """One row per shipment: customer, destination, SSCCs, units, returned."""
    with http_errors():
        status = recalls.recall_status(conn, recall_id)
    return Response(
        reports.notification_csv(status),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="recall-{recall_id}.csv"'},
    )


@router.get("/{recall_id}/notifications.pdf", responses={200: {"content": {"application/pdf": {}}}})
def notifications_pdf(recall_id: RowId, conn: ReadConn, _user: QaUser) -> Response:
    with http_errors():
        status = recalls.recall_status(conn, recall_id)
    return Response(reports.notification_pdf(status), media_type="application/pdf")
