"""TransformationEvents: the raw-material lots (``inputQuantityList``, ``inputEPCList``) of
the batch its output LGTIN (``outputQuantityList``) names. :func:`retract` removes them
again for an erroneous one."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from server.identifiers import canonical, parse_lot_class
from server.ingest.prepare import Contents, ilmd_value
from server.store.dialect import insert_ignore
from server.store.schema import batch_inputs, batches

if TYPE_CHECKING:
    from server.ingest.apply.unit_of_work import UnitOfWork


def derive(
    uow: UnitOfWork,
    pk: int,
    event: dict[str, Any],
    event_time: datetime,
    named: Contents | None,
) -> None:
    """Record the inputs of the batches the event's output lots name (created if new)."""
    conn = uow.conn
    outputs = [
        item.get("epcClass")
        for item in event.get("outputQuantityList") or ()
        if isinstance(item, dict)
    ]
    lots = [parse_lot_class(epc_class) for epc_class in outputs if isinstance(epc_class, str)]
    batch_ids = []
    for lot in lots:
        if lot is None:
            continue
        row = conn.execute(
            select(batches.c.id).where(batches.c.gtin == lot[0], batches.c.lot == lot[1])
        ).first()
        if row is None:
            conn.execute(
                insert_ignore(conn, batches),
                {
                    "gtin": lot[0],
                    "lot": lot[1],
                    "expiry": ilmd_value(event.get("ilmd"), "itemExpirationDate"),
                    "site": None,
                    "line": None,
                    "first_seen": uow.now,
                },
            )
            row = conn.execute(
                select(batches.c.id).where(batches.c.gtin == lot[0], batches.c.lot == lot[1])
            ).one()
        batch_ids.append(row.id)
    inputs: list[dict[str, Any]] = []
    for item in event.get("inputQuantityList") or ():
        if isinstance(item, dict) and isinstance(item.get("epcClass"), str):
            inputs.append(
                {
                    "input": canonical(item["epcClass"]),
                    "quantity": item.get("quantity"),
                    "uom": item.get("uom"),
                }
            )
    for epc in event.get("inputEPCList") or ():
        inputs.append({"input": canonical(epc), "quantity": None, "uom": None})
    rows = [
        {**item, "batch_id": batch_id, "event_pk": pk} for batch_id in batch_ids for item in inputs
    ]
    if rows:
        conn.execute(batch_inputs.insert(), rows)


def retract(uow: UnitOfWork, pk: int, event: dict[str, Any]) -> None:
    """An erroneous transformation's raw-material inputs are removed."""
    uow.conn.execute(delete(batch_inputs).where(batch_inputs.c.event_pk == pk))
