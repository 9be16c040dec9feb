"""Batch record (production, inspections, raw-material lots) and signed QA release."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn, Reader
from server.api.routes.qa_common import QaClock, http_errors
from server.api.routes.units import parse_gtin
from server.qa import release
from server.qa.signatures import Signature
from server.store import write_transaction

router = APIRouter(prefix="/qa/batches", tags=["qa: batch release"])
Text = Annotated[str, Field(min_length=1, max_length=256)]
Reason = Annotated[str, Field(min_length=3, max_length=2000)]


class Deviation(BaseModel):
    reference: Annotated[str, Field(min_length=1, max_length=64)]
    description: Annotated[str, Field(min_length=1, max_length=2000)]


class ProductionIn(BaseModel):
    line: Annotated[str, Field(min_length=1, max_length=64)]
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    planned: Annotated[int, Field(ge=0)]
    produced: Annotated[int, Field(ge=0, description="labels printed")]
    rejected: Annotated[int, Field(ge=0)] = 0
    sampled: Annotated[int, Field(ge=0)] = 0
    scrapped: Annotated[int, Field(ge=0)] = 0
    deviations: list[Deviation] = Field(default_factory=list, max_length=200)
    reason: Reason = "production record"

    @model_validator(mode="after")
    def _dates(self) -> ProductionIn:
        if self.finished_at is not None and self.finished_at < self.started_at:
            raise ValueError(
                f"finished_at: expected at or after started_at {self.started_at.isoformat()}, "
                f"got {self.finished_at.isoformat()}"
            )
        return self


class InspectionIn(BaseModel):
    test: Annotated[str, Field(min_length=1, max_length=128)]
    specification: Text
    result: Text
    passed: bool
    tested_at: AwareDatetime
    reason: Reason = "QC result"


class MaterialIn(BaseModel):
    material: Annotated[str, Field(min_length=1, max_length=128)]
    supplier: Annotated[str, Field(min_length=1, max_length=128)]
    supplier_lot: Annotated[str, Field(min_length=1, max_length=64)]
    received_at: AwareDatetime
    quantity: Annotated[float, Field(gt=0)] | None = None
    uom: Annotated[str, Field(min_length=1, max_length=8)] | None = None
    reason: Reason = "raw-material lot consumed"


class StatusIn(BaseModel):
    status: Literal["released", "rejected", "quarantine"]
    password: Annotated[str, Field(min_length=1, max_length=1024, description="re-entered")]
    full_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    reason: Reason


class Created(BaseModel):
    id: int


@router.get("/{gtin}/{lot}/record", responses={404: {"description": "batch unknown"}})
def get_record(gtin: str, lot: str, conn: ReadConn, _user: Reader) -> release.BatchRecord:
    """Release status and signature, production record with reconciliation, inspection
    results, raw-material lots (recorded by QA and from EPCIS transformation events)."""
    with http_errors():
        return release.batch_record(conn, parse_gtin(gtin), lot)


@router.put("/{gtin}/{lot}/production", responses={404: {"description": "batch unknown"}})
def put_production(
    gtin: str, lot: str, body: ProductionIn, request: Request, user: QaUser, clock: QaClock
) -> release.BatchRecord:
    now = clock.now()
    record = release.ProductionRecord(
        line=body.line,
        started_at=body.started_at,
        finished_at=body.finished_at,
        planned=body.planned,
        produced=body.produced,
        rejected=body.rejected,
        sampled=body.sampled,
        scrapped=body.scrapped,
        deviations=[d.model_dump() for d in body.deviations],
        updated_at=now,
        updated_by=user.username,
    )
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        batch = release.find_batch(conn, parse_gtin(gtin), lot)
        release.record_production(conn, batch, record, reason=body.reason)
        return release.batch_record(conn, batch.gtin, batch.lot)


@router.post("/{gtin}/{lot}/inspections", status_code=201)
def post_inspection(
    gtin: str, lot: str, body: InspectionIn, request: Request, user: QaUser, clock: QaClock
) -> Created:
    """A QC test result; the QA user recording it is its approver."""
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        batch = release.find_batch(conn, parse_gtin(gtin), lot)
        return Created(
            id=release.add_inspection(
                conn,
                batch,
                test=body.test,
                specification=body.specification,
                result=body.result,
                passed=body.passed,
                tested_at=body.tested_at,
                approver=user,
                now=clock.now(),
                reason=body.reason,
            )
        )


@router.post("/{gtin}/{lot}/materials", status_code=201)
def post_material(
    gtin: str, lot: str, body: MaterialIn, request: Request, user: QaUser, clock: QaClock
) -> Created:
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        batch = release.find_batch(conn, parse_gtin(gtin), lot)
        return Created(
            id=release.add_material_lot(
                conn,
                batch,
                material=body.material,
                supplier=body.supplier,
                supplier_lot=body.supplier_lot,
                received_at=body.received_at,
                quantity=body.quantity,
                uom=body.uom,
                user=user,
                now=clock.now(),
                reason=body.reason,
            )
        )


@router.post(
    "/{gtin}/{lot}/status",
    responses={
        403: {"description": "signature password wrong"},
        404: {"description": "batch unknown"},
        409: {"description": "transition refused (e.g. release blockers)"},
    },
)
def post_status(
    gtin: str, lot: str, body: StatusIn, request: Request, user: QaUser, clock: QaClock
) -> Signature:
    """Release, reject or hold the batch with an electronic signature (password again)."""
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        batch = release.find_batch(conn, parse_gtin(gtin), lot)
        return release.change_status(
            conn,
            batch,
            release.BatchStatus(body.status),
            user=user,
            password=body.password,
            full_name=body.full_name,
            reason=body.reason,
            now=clock.now(),
        )
