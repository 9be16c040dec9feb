"""``GET /units/{gtin}/{serial}`` and ``GET /trace?code=``: where a unit is and what it is."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy import select

import gs1
from server.api.deps import ReadConn, Reader
from server.identifiers import UnitKey, unit_from_code
from server.masterdata import names_for
from server.store.queries import UnitTrace, level_name, trace_unit
from server.store.schema import batches, containers, units

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
    return named_trace(conn, _trace(conn, UnitKey(parse_gtin(gtin), serial)))


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
    return named_trace(conn, _trace(conn, unit))


def named_trace(conn: ReadConn, trace: UnitTrace) -> UnitTrace:
    """The trace with ``names``: master-data names for the URNs it shows (customer, ship-to,
    read points) and the product's name under its GTIN."""
    urns: list[str | None] = [trace.gtin, *(e.read_point for e in trace.events)]
    if trace.shipment is not None:
        urns += [trace.shipment.customer, trace.shipment.destination]
    return replace(trace, names=names_for(conn, urns))


# -- search -------------------------------------------------------------------------------

SEARCH_LIMIT = 100
How = Literal["code", "serial", "sscc", "lot"]


class SearchMatch(BaseModel):
    """One thing a search text names: a unit, a case or pallet (container) or a batch."""

    kind: Literal["unit", "container", "batch"]
    how: How  # what the text was read as
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    sscc: str | None = None
    level: str | None = None
    status: str | None = None
    page: str  # the QA web UI page that shows it


class SearchAnswer(BaseModel):
    query: str
    matches: list[SearchMatch]
    truncated: bool
    note: str | None = None  # why a GS1 reading of the text failed, when it did


@router.get("/search")
def search(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=512,
            description="a bare serial (matched across GTINs), an SSCC, a lot, or any GS1 "
            "code form (element string, HRI, Digital Link, EPC URI)",
        ),
    ],
    conn: ReadConn,
    _user: Reader,
) -> SearchAnswer:
    """Everything ``q`` can name, each with the UI page that shows it: the unit of a GS1
    code; units whose serial is ``q`` under any GTIN; the case or pallet whose SSCC is
    ``q``; batches whose lot is ``q``. Never an error for text that is no GS1 code: a bare
    serial such as ``100000000001`` is looked up as a serial, and ``note`` says why it is
    not a GS1 code."""
    text = q.strip()
    found: dict[tuple[str, ...], SearchMatch] = {}
    note: str | None = None
    if not text:
        return SearchAnswer(query=q, matches=[], truncated=False, note="q: expected text")

    def add(match: SearchMatch) -> None:
        key = (match.kind, match.gtin or "", match.serial or "", match.lot or "", match.sscc or "")
        found.setdefault(key, match)

    unit = unit_from_code(text)
    if unit is not None:
        for row in _units(conn, [unit.gtin], unit.serial):
            add(_unit_match(row, "code"))
    else:
        try:
            reading = gs1.read(text)
        except gs1.Gs1Error as exc:
            note = f"not a GS1 code: {exc}"
        else:
            code = reading.code
            if isinstance(code, gs1.Sscc):
                for row in _containers(conn, code.value):
                    add(_container_match(row, "code"))
            elif isinstance(code, gs1.UnitCode) and code.lot is not None:
                for row in _batches(conn, code.lot, code.gtin.value):
                    add(_batch_match(row, "code"))
    # The text as it stands: a serial under any GTIN, an SSCC, a lot.
    if len(text) <= 20:
        gtins = list(conn.execute(select(batches.c.gtin).distinct()).scalars())
        for row in _units(conn, gtins, text):
            add(_unit_match(row, "serial"))
        for row in _batches(conn, text, None):
            add(_batch_match(row, "lot"))
    if len(text) == 18 and text.isdigit():
        for row in _containers(conn, text):
            add(_container_match(row, "sscc"))
    matches = list(found.values())
    return SearchAnswer(
        query=q,
        matches=matches[:SEARCH_LIMIT],
        truncated=len(matches) > SEARCH_LIMIT,
        note=note,
    )


def _units(conn: ReadConn, gtins: list[str], serial: str) -> list[Any]:
    """Units of ``serial`` under ``gtins``: the (gtin, serial) unique index, one probe per
    GTIN (there are few: one per product), so no serial-only index is needed."""
    if not gtins:
        return []
    return list(
        conn.execute(
            select(units.c.gtin, units.c.serial, units.c.status)
            .where(units.c.gtin.in_(gtins), units.c.serial == serial)
            .order_by(units.c.gtin)
            .limit(SEARCH_LIMIT + 1)
        )
    )


def _containers(conn: ReadConn, sscc: str) -> list[Any]:
    return list(
        conn.execute(
            select(containers.c.sscc, containers.c.level, containers.c.status).where(
                containers.c.sscc == sscc
            )
        )
    )


def _batches(conn: ReadConn, lot: str, gtin: str | None) -> list[Any]:
    query = select(batches.c.gtin, batches.c.lot, batches.c.disposition).where(batches.c.lot == lot)
    if gtin is not None:
        query = query.where(batches.c.gtin == gtin)
    return list(conn.execute(query.order_by(batches.c.gtin).limit(SEARCH_LIMIT + 1)))


def _unit_match(row: Any, how: How) -> SearchMatch:
    return SearchMatch(
        kind="unit",
        how=how,
        gtin=row.gtin,
        serial=row.serial,
        status=row.status,
        page=f"/ui/unit/{row.gtin}/{quote(row.serial, safe='')}",
    )


def _container_match(row: Any, how: How) -> SearchMatch:
    return SearchMatch(
        kind="container",
        how=how,
        sscc=row.sscc,
        level=level_name(row.level),
        status=row.status,
        page=f"/ui/container/{row.sscc}",
    )


def _batch_match(row: Any, how: How) -> SearchMatch:
    return SearchMatch(
        kind="batch",
        how=how,
        gtin=row.gtin,
        lot=row.lot,
        status=row.disposition,
        page=f"/ui/batch/{row.gtin}/{quote(row.lot, safe='')}",
    )
