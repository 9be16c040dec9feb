"""``GET /units/{gtin}/{serial}`` and ``GET /trace?code=``: where a unit is and what it is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

import gs1
from server.api.deps import ReadConn, Reader
from server.identifiers import UnitKey, unit_from_code
from server.store.queries import UnitTrace, trace_unit

router = APIRouter(tags=["trace"])


def parse_gtin(gtin: str) -> str:
    try:
        return gs1.Gtin.parse(gtin).value
    except gs1.Gs1Error as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"gtin: {exc}") from exc


def _trace(conn: ReadConn, unit: UnitKey) -> UnitTrace:
    trace = trace_unit(conn, unit)
    if trace is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unit: GTIN {unit.gtin} serial {unit.serial!r} was never commissioned",
        )
    return trace


@router.get("/units/{gtin}/{serial:gs1text}", responses={404: {"description": "unit unknown"}})
def get_unit(gtin: str, serial: str, conn: ReadConn, _user: Reader) -> UnitTrace:
    """Lot, expiry, status and disposition, the chain of containers (case, pallet), the
    shipment and destination, and every event that names the unit or its containers."""
    return _trace(conn, UnitKey(parse_gtin(gtin), serial))


@router.get("/trace", responses={404: {"description": "unit unknown"}})
def trace_code(
    code: Annotated[
        str,
        Query(
            min_length=1, max_length=512, description="element string, HRI, Digital Link or EPC URI"
        ),
    ],
    conn: ReadConn,
    _user: Reader,
) -> UnitTrace:
    """The unit any code form names (what a scanner or a person reads off the pack)."""
    unit = unit_from_code(code)
    if unit is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"code: expected a GS1 code with GTIN and serial (element string, HRI, "
            f"Digital Link or EPC URI), got {code!r}",
        )
    return _trace(conn, unit)
