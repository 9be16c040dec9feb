"""Mock-recall drills: run one (a batch or a random one), list them, read the report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, model_validator

from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn
from server.api.routes.qa_common import QaClock, RowId, http_errors
from server.api.routes.units import parse_gtin
from server.qa import drills, release, reports
from server.store import write_transaction

router = APIRouter(prefix="/qa/drills", tags=["qa: drills"])


class DrillIn(BaseModel):
    gtin: Annotated[str, Field(min_length=8, max_length=14)] | None = None
    lot: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    random: bool = False

    @model_validator(mode="after")
    def _target(self) -> DrillIn:
        if self.random == (self.gtin is not None and self.lot is not None):
            raise ValueError("batch: expected gtin and lot, or random true (one of the two)")
        return self


@router.post("", status_code=201, responses={404: {"description": "batch unknown"}})
def run(body: DrillIn, request: Request, user: QaUser, clock: QaClock) -> drills.DrillResult:
    """Full backward and forward trace of the batch, timed, with completeness and report."""
    with http_errors(), write_transaction(services_of(request).engine) as conn:
        if body.random:
            batch = drills.pick_random_batch(conn)
        else:
            assert body.gtin is not None and body.lot is not None
            batch = release.find_batch(conn, parse_gtin(body.gtin), body.lot)
        return drills.run_drill(conn, batch, run_by=user.username, now=clock.now())


@router.get("")
def list_drills(
    conn: ReadConn,
    _user: QaUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[drills.DrillSummary]:
    return drills.list_drills(conn, limit=limit, offset=offset)


@router.get("/{drill_id}", responses={404: {"description": "drill unknown"}})
def get_drill(drill_id: RowId, conn: ReadConn, _user: QaUser) -> drills.DrillResult:
    with http_errors():
        return drills.get_drill(conn, drill_id)


@router.get("/{drill_id}/report.html", response_class=HTMLResponse)
def report_html(drill_id: RowId, conn: ReadConn, _user: QaUser) -> HTMLResponse:
    with http_errors():
        return HTMLResponse(reports.drill_html(drills.get_drill(conn, drill_id)))


@router.get("/{drill_id}/report.pdf", responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(drill_id: RowId, conn: ReadConn, _user: QaUser) -> Response:
    with http_errors():
        result = drills.get_drill(conn, drill_id)
    return Response(reports.drill_pdf(result), media_type="application/pdf")
