"""Complaints and feedback: intake, workflow, notes, attachments, imports, dashboard."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn, Reader
from server.api.routes.qa_common import QaClock, RowId, Settings, http_errors
from server.qa import complaints
from server.store import write_transaction

router = APIRouter(prefix="/complaints", tags=["complaints"])
Note = Annotated[str, Field(min_length=1, max_length=4000)]
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class ComplaintIn(BaseModel):
    channel: Literal["hotline", "online", "social", "distributor"]
    reporter: Annotated[str, Field(min_length=1, max_length=256)]
    description: Annotated[str, Field(min_length=1, max_length=10_000)]
    contact: Annotated[str, Field(max_length=256)] | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    code: (
        Annotated[str, Field(max_length=512, description="any code form read off the pack")] | None
    ) = None
    external_ref: Annotated[str, Field(max_length=128)] | None = None
    received_at: AwareDatetime | None = None


class StatusIn(BaseModel):
    status: Literal["acknowledged", "investigating", "resolved", "closed"]
    note: Note
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None

    @model_validator(mode="after")
    def _rating_at_closure(self) -> StatusIn:
        if self.satisfaction is not None and self.status != "closed":
            raise ValueError(
                f"satisfaction: expected only with status 'closed', got status {self.status!r}"
            )
        return self


class NoteIn(BaseModel):
    text: Note


class OwnerIn(BaseModel):
    owner: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Note = "assigned"


class Created(BaseModel):
    id: int


@router.post("", status_code=201)
def receive(body: ComplaintIn, request: Request, user: Reader, clock: QaClock) -> Created:
    """Record a complaint; the code (if any) is resolved to unit, batch and shipment.
    Idempotent on ``external_ref``."""
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        return Created(
            id=complaints.receive(
                conn,
                complaints.Intake(
                    channel=complaints.Channel(body.channel),
                    reporter=body.reporter,
                    description=body.description,
                    contact=body.contact,
                    category=body.category,
                    code=body.code,
                    external_ref=body.external_ref,
                    received_at=body.received_at,
                ),
                actor=user.username,
                now=clock.now(),
            )
        )


@router.get("/dashboard")
def dashboard(
    conn: ReadConn, _user: QaUser, clock: QaClock, settings: Settings
) -> complaints.Dashboard:
    """SLA attainment, at-risk and breached complaints, open by age, satisfaction against
    its target, complaints per product and per batch (flagged when a rate stands out)."""
    return complaints.dashboard(conn, settings, clock.now())


@router.post("/import", openapi_extra={"requestBody": {"content": {"text/csv": {}}}})
async def import_csv(request: Request, user: QaUser, clock: QaClock) -> complaints.ImportResult:
    """CSV: channel, reporter, description, and optionally received_at, contact, code,
    external_ref (rows with a known external_ref are skipped as already imported)."""
    text = await _body_text(request)
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        return complaints.import_complaints(conn, text, actor=user.username, now=clock.now())


@router.post("/surveys", openapi_extra={"requestBody": {"content": {"text/csv": {}}}})
async def import_surveys(request: Request, user: QaUser, clock: QaClock) -> complaints.ImportResult:
    """CSV: complaint_id, rating (1 to 5; 4 and 5 count as satisfied)."""
    text = await _body_text(request)
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        return complaints.import_survey(conn, text, user=user, now=clock.now())


async def _body_text(request: Request) -> str:
    data = await request.body()
    with http_errors():
        if len(data) > MAX_IMPORT_BYTES:
            raise ValueError(f"body: expected at most {MAX_IMPORT_BYTES} bytes, got {len(data)}")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"body: expected UTF-8 CSV, got bad byte at {exc.start}") from exc


@router.get("")
def list_complaints(
    conn: ReadConn,
    _user: QaUser,
    clock: QaClock,
    settings: Settings,
    status: Literal["received", "acknowledged", "investigating", "resolved", "closed"]
    | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[complaints.Complaint]:
    return complaints.list_complaints(
        conn,
        settings.policy(),
        clock.now(),
        status=None if status is None else complaints.ComplaintStatus(status),
        limit=limit,
        offset=offset,
    )


@router.get("/{complaint_id}", responses={404: {"description": "complaint unknown"}})
def get_complaint(
    complaint_id: RowId, conn: ReadConn, _user: QaUser, clock: QaClock, settings: Settings
) -> complaints.Complaint:
    with http_errors():
        return complaints.get_complaint(conn, complaint_id, settings.policy(), clock.now())


@router.post("/{complaint_id}/status", responses={409: {"description": "transition refused"}})
def post_status(
    complaint_id: RowId,
    body: StatusIn,
    request: Request,
    user: QaUser,
    clock: QaClock,
    settings: Settings,
) -> complaints.Complaint:
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        complaints.change_status(
            conn,
            complaint_id,
            complaints.ComplaintStatus(body.status),
            user=user,
            note=body.note,
            satisfaction=body.satisfaction,
            now=clock.now(),
        )
        return complaints.get_complaint(conn, complaint_id, settings.policy(), clock.now())


@router.post("/{complaint_id}/owner")
def post_owner(
    complaint_id: RowId, body: OwnerIn, request: Request, user: QaUser, clock: QaClock
) -> Created:
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        complaints.assign(
            conn, complaint_id, body.owner, user=user, reason=body.reason, now=clock.now()
        )
    return Created(id=complaint_id)


@router.post("/{complaint_id}/notes", status_code=201)
def post_note(
    complaint_id: RowId,
    body: Annotated[NoteIn, Body()],
    request: Request,
    user: QaUser,
    clock: QaClock,
) -> Created:
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        return Created(
            id=complaints.add_note(conn, complaint_id, body.text, user=user, now=clock.now())
        )


@router.post("/{complaint_id}/attachments", status_code=201)
async def post_attachment(
    complaint_id: RowId,
    file: Annotated[UploadFile, File()],
    request: Request,
    user: QaUser,
    clock: QaClock,
    text: Annotated[str, Form(max_length=4000)] = "attachment",
) -> Created:
    content = await file.read(complaints.MAX_ATTACHMENT_BYTES + 1)
    filename = (file.filename or "attachment")[:256]
    content_type = (file.content_type or "application/octet-stream")[:128]
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        return Created(
            id=complaints.add_note(
                conn,
                complaint_id,
                text,
                user=user,
                now=clock.now(),
                attachment=(filename, content_type, content),
            )
        )


@router.get("/{complaint_id}/attachments/{note_id}")
def get_attachment(complaint_id: RowId, note_id: RowId, conn: ReadConn, _user: QaUser) -> Response:
    with http_errors():
        filename, content_type, content = complaints.attachment(conn, complaint_id, note_id)
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "attachment"
    return Response(
        content,
        media_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
