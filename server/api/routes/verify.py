"""``GET /verify``: an EU FMD-style verification of one pack."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

import gs1
from server.api.deps import Anyone, ReadConn
from server.api.routes.units import parse_gtin
from server.identifiers import UnitKey
from server.store.queries import Verification, utc_today, verify_pack

router = APIRouter(tags=["verify"])


def iso_expiry(expiry: str) -> str:
    """YYMMDD (AI 17) or YYYY-MM-DD to the stored ISO form."""
    if len(expiry) == 6 and expiry.isdigit():
        try:
            parsed = gs1.Expiry.parse(expiry)
        except gs1.Gs1Error as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"expiry: {exc}") from exc
        return f"{parsed.year:04d}-{parsed.month:02d}-{parsed.day:02d}"
    parts = expiry.split("-")
    if len(parts) == 3 and [len(p) for p in parts] == [4, 2, 2] and all(p.isdigit() for p in parts):
        return expiry
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"expiry: expected YYMMDD or YYYY-MM-DD, got {expiry!r}",
    )


@router.get("/verify")
def verify(
    gtin: Annotated[str, Query(max_length=14)],
    serial: Annotated[str, Query(min_length=1, max_length=20)],
    conn: ReadConn,
    _user: Anyone,
    lot: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    expiry: Annotated[str | None, Query(max_length=10)] = None,
) -> Verification:
    """``active``, ``decommissioned`` (with reason), ``recalled``, ``expired``, ``unknown``,
    or ``suspect`` when the lot or expiry on the pack differ from the record."""
    unit = UnitKey(parse_gtin(gtin), serial)
    return verify_pack(
        conn,
        unit,
        lot=lot,
        expiry=None if expiry is None else iso_expiry(expiry),
        today=utc_today(),
    )
