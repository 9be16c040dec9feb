"""``/master-data``: names for locations, parties and products; QA edits them (audited).

A URN travels in the query string (``?urn=urn:epc:id:sgln:...``): URNs hold ``:`` and may
hold ``/``, which do not belong in a path segment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn, Reader
from server.masterdata.store import (
    MasterDataError,
    MasterDataItem,
    get_item,
    list_items,
    set_name,
)
from server.store import write_transaction

router = APIRouter(prefix="/master-data", tags=["master data"])

Urn = Annotated[str, Query(min_length=3, max_length=512, description="the URN, e.g. an SGLN")]


class MasterDataPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[MasterDataItem]


class NameChange(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]
    vocabulary: Annotated[str | None, Field(max_length=256)] = None


@router.get("")
def master_data_list(
    conn: ReadConn,
    _user: Reader,
    q: Annotated[str | None, Query(max_length=200, description="part of URN or name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> MasterDataPage:
    """Master data by URN, filtered by ``q``, one page at a time."""
    total, items = list_items(conn, q=q, limit=limit, offset=offset)
    return MasterDataPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/item", responses={404: {"description": "no master data for the URN"}})
def master_data_item(urn: Urn, conn: ReadConn, _user: Reader) -> MasterDataItem:
    item = get_item(conn, urn)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"urn: no master data for {urn!r}")
    return item


@router.put("/item", responses={422: {"description": "bad name, URN or reason"}})
def master_data_rename(
    urn: Urn, body: NameChange, request: Request, user: QaUser
) -> MasterDataItem:
    """Set the display name of a URN (QA role; recorded in the audit trail with the old and
    new name and the reason). A name set here is kept when master data arrives later."""
    with write_transaction(services_of(request).engine) as conn:
        try:
            return set_name(
                conn,
                urn,
                body.name,
                vocabulary=body.vocabulary,
                actor=user.username,
                reason=body.reason,
                now=datetime.now(UTC),
            )
        except MasterDataError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
