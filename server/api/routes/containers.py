"""``GET /containers/{sscc}``: a case or pallet and everything inside it."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, HTTPException, status

import gs1
from server.api.deps import ReadConn, Reader
from server.masterdata import names_for
from server.store.queries import ContainerTree, container_tree

router = APIRouter(tags=["trace"])


@router.get("/containers/{sscc}", responses={404: {"description": "SSCC unknown"}})
def get_container(sscc: str, conn: ReadConn, _user: Reader) -> ContainerTree:
    try:
        value = gs1.Sscc.parse(sscc).value
    except gs1.Gs1Error as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"sscc: {exc}") from exc
    tree = container_tree(conn, value)
    if tree is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"sscc: {value} is not on record")
    shipment = tree.shipment
    if shipment is None:
        return tree
    return replace(tree, names=names_for(conn, [shipment.customer, shipment.destination]))
