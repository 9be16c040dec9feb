"""Batch record (production, inspections, raw-material lots), its history, and the signed
QA decisions (release, reject, hold).

Who may do what: the production record and raw-material lots are recorded by production
(operator) or QA, inspections by QA; only QA signs a decision, and not for a batch whose
production record they recorded (``producer_may_release``). Once released the record is
locked: a change needs a hold, a reason and the changer's signature (``password``). The lot
is one percent-encoded path segment (``/`` as ``%2F``; see :mod:`server.api.paths`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, Field, model_validator

import server.api.paths  # noqa: F401  (the gs1text path convertor)
from server import audit
from server.api.app_state import services_of
from server.api.deps import (
    Address,
    QaOnly,
    ReadConn,
    Reader,
    RecordWriter,
    locked_note,
    record_failed_attempt,
    refuse_if_locked,
)
from server.api.routes.qa_common import QaClock, http_errors
from server.api.routes.units import parse_gtin
from server.auth import User
from server.qa import release
from server.qa.errors import SignatureRejected
from server.qa.signatures import Meaning, Signature
from server.store import write_transaction

router = APIRouter(prefix="/qa/batches", tags=["qa: batch release"])
Text = Annotated[str, Field(min_length=1, max_length=256)]
Reason = Annotated[str, Field(min_length=3, max_length=2000)]
Password = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="your password again: needed to change the record of a batch that was "
        "released before (your signature of the change)",
    ),
]
BATCH = "/{gtin}/{lot:gs1text}"


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
    password: Password | None = None

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
    password: Password | None = None


class MaterialIn(BaseModel):
    material: Annotated[str, Field(min_length=1, max_length=128)]
    supplier: Annotated[str, Field(min_length=1, max_length=128)]
    supplier_lot: Annotated[str, Field(min_length=1, max_length=64)]
    received_at: AwareDatetime
    quantity: Annotated[float, Field(gt=0)] | None = None
    uom: Annotated[str, Field(min_length=1, max_length=8)] | None = None
    reason: Reason = "raw-material lot consumed"
    password: Password | None = None


class StatusIn(BaseModel):
    status: Literal["released", "rejected", "quarantine"]
    password: Annotated[str, Field(min_length=1, max_length=1024, description="re-entered")]
    reason: Reason
    meaning: Annotated[
        str | None,
        Field(description="one of GET /qa/signature-meanings (default: the move's own)"),
    ] = None
    full_name: Annotated[
        str | None,
        Field(
            max_length=128,
            description="not accepted: the printed name comes from the user record; when "
            "given it must be that name",
        ),
    ] = None


class Created(BaseModel):
    id: int


@router.get(BATCH + "/record", responses={404: {"description": "batch unknown"}})
def get_record(gtin: str, lot: str, conn: ReadConn, _user: Reader) -> release.BatchRecord:
    """Release status and signature, production record with reconciliation, inspection
    results, raw-material lots (recorded by QA and from EPCIS transformation events)."""
    with http_errors():
        return release.batch_record(conn, parse_gtin(gtin), lot)


@router.get(BATCH + "/history", responses={404: {"description": "batch unknown"}})
def get_history(gtin: str, lot: str, conn: ReadConn, _user: Reader) -> list[audit.AuditEntry]:
    """Every change of the batch's record and status, oldest first, with old and new values,
    who, when, why, and the signatures: each version of the record stays visible."""
    with http_errors():
        return release.history(conn, release.find_batch(conn, parse_gtin(gtin), lot))


@router.put(
    BATCH + "/production",
    responses={
        403: {"description": "signature needed or wrong (batch released before)"},
        404: {"description": "batch unknown"},
        409: {"description": "record locked (released or rejected)"},
    },
)
def put_production(
    gtin: str,
    lot: str,
    body: ProductionIn,
    request: Request,
    user: RecordWriter,
    clock: QaClock,
    address: Address,
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
    engine = services_of(request).engine
    with (
        signing(request, user, address, body.password),
        http_errors(),
        write_transaction(engine) as conn,
    ):
        batch = release.find_batch(conn, parse_gtin(gtin), lot)
        release.record_production(
            conn, batch, record, reason=body.reason, user=user, password=body.password
        )
        return release.batch_record(conn, batch.gtin, batch.lot)


@router.post(BATCH + "/inspections", status_code=201)
def post_inspection(
    gtin: str,
    lot: str,
    body: InspectionIn,
    request: Request,
    user: QaOnly,
    clock: QaClock,
    address: Address,
) -> Created:
    """A QC test result; the QA user recording it is its approver."""
    engine = services_of(request).engine
    with (
        signing(request, user, address, body.password),
        http_errors(),
        write_transaction(engine) as conn,
    ):
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
                password=body.password,
            )
        )


@router.post(BATCH + "/materials", status_code=201)
def post_material(
    gtin: str,
    lot: str,
    body: MaterialIn,
    request: Request,
    user: RecordWriter,
    clock: QaClock,
    address: Address,
) -> Created:
    engine = services_of(request).engine
    with (
        signing(request, user, address, body.password),
        http_errors(),
        write_transaction(engine) as conn,
    ):
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
                password=body.password,
            )
        )


@router.post(
    BATCH + "/status",
    responses={
        403: {"description": "signature password wrong"},
        404: {"description": "batch unknown"},
        409: {"description": "transition refused (e.g. release blockers)"},
    },
)
def post_status(
    gtin: str,
    lot: str,
    body: StatusIn,
    request: Request,
    user: QaOnly,
    clock: QaClock,
    address: Address,
) -> Signature:
    """Release, reject or hold the batch with an electronic signature (password again). The
    printed name is the user record's; the meaning one of the fixed list."""
    settings = services_of(request).settings
    if body.full_name is not None and body.full_name != user.printed_name:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"full_name: the printed name comes from your user record ({user.printed_name!r}), "
            f"got {body.full_name!r}; an admin changes it",
        )
    engine = services_of(request).engine
    with (
        signing(request, user, address, body.password),
        http_errors(),
        write_transaction(engine) as conn,
    ):
        batch = release.find_batch(conn, parse_gtin(gtin), lot)
        return release.change_status(
            conn,
            batch,
            release.BatchStatus(body.status),
            user=user,
            password=body.password,
            reason=body.reason,
            now=clock.now(),
            meaning=body.meaning,
            producer_may_release=settings.producer_may_release,
        )


class MeaningOut(BaseModel):
    meaning: str
    used_for: str


@router.get("/signature-meanings", include_in_schema=True)
def signature_meanings(_user: Reader) -> list[MeaningOut]:
    """The fixed list of what a signature may mean, and what each one is for."""
    used_for = {
        Meaning.RELEASE: "status released",
        Meaning.REJECT: "status rejected",
        Meaning.HOLD: "status quarantine (a hold)",
        Meaning.CORRECTION: "a change to the record of a batch that was released before",
    }
    return [MeaningOut(meaning=m.value, used_for=used_for[m]) for m in Meaning]


@contextmanager
def signing(request: Request, user: User, address: str, password: str | None) -> Iterator[None]:
    """Around a request that may check a signature password: refuse a locked user name or
    a throttled address first; count, audit and possibly lock on a wrong password."""
    if password:
        refuse_if_locked(request, user.username, address, "signature")
    try:
        yield
    except HTTPException as exc:
        if not isinstance(exc.__cause__, SignatureRejected):
            raise
        failure = record_failed_attempt(
            request, user.username, address, "signature", "signature password wrong"
        )
        raise HTTPException(exc.status_code, f"{exc.detail}{locked_note(failure)}") from exc
