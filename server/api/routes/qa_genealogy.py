"""Genealogy: backward to records and raw materials, forward from a raw-material lot,
and the completeness check (the 100 % traceability target, measured)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.api.deps import ReadConn, Reader
from server.api.routes.qa_common import http_errors
from server.api.routes.units import parse_gtin
from server.qa import genealogy, release

router = APIRouter(prefix="/qa", tags=["qa: genealogy"])


@router.get("/genealogy/backward", responses={404: {"description": "code not on record"}})
def backward(
    code: Annotated[
        str,
        Query(
            min_length=1,
            max_length=512,
            description="unit or SSCC in any code form (element string, HRI, Digital Link, "
            "EPC URI), or GTIN/LOT for a batch",
        ),
    ],
    conn: ReadConn,
    _user: Reader,
) -> genealogy.BackwardTrace:
    """The batch records (production, inspections, raw-material lots) behind a code."""
    with http_errors():
        return genealogy.backward(conn, code)


@router.get("/genealogy/forward", responses={404: {"description": "lot not recorded"}})
def forward(
    material_lot: Annotated[str, Query(min_length=1, max_length=512)],
    conn: ReadConn,
    _user: Reader,
) -> genealogy.ForwardTrace:
    """Every batch that consumed the raw-material lot and what each reached: units,
    cases, pallets, shipments, customers."""
    with http_errors():
        return genealogy.forward_from_material(conn, material_lot)


@router.get("/completeness")
def incomplete(conn: ReadConn, _user: Reader) -> list[genealogy.Completeness]:
    """Every batch that is not 100 % traceable, with its gaps."""
    return genealogy.incomplete_batches(conn)


@router.get(
    "/batches/{gtin}/{lot:gs1text}/completeness", responses={404: {"description": "unknown"}}
)
def batch_completeness(
    gtin: str, lot: str, conn: ReadConn, _user: Reader
) -> genealogy.Completeness:
    with http_errors():
        return genealogy.completeness(conn, release.find_batch(conn, parse_gtin(gtin), lot))
