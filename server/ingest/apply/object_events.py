"""ObjectEvents: commissioning, decommissioning (and any action DELETE), shipping.

* commissioning (ADD): one unit per SGTIN, its batch from ``ilmd`` lot/expiry; a serial
  already commissioned raises a ``duplicate_commission`` alert, never a second unit;
* decommissioning / destroying / dispensing / …, and any ObjectEvent with action DELETE: the
  unit leaves the active state with the bizStep as reason;
* shipping: a shipment with destination, customer and business transaction.

:func:`retract` undoes what an erroneous ObjectEvent asserted.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, update

from server.cbv import cbv_term
from server.identifiers import lot_key
from server.ingest.prepare import Contents, PreparedEvent, contents_of
from server.store.dialect import chunks, insert_ignore
from server.store.schema import batches, containers, shipments, unit_is, units

if TYPE_CHECKING:
    from server.ingest.apply.unit_of_work import UnitOfWork

DECOMMISSIONING_STEPS = frozenset(
    {"decommissioning", "destroying", "dispensing", "sampling", "stolen", "retail_selling"}
)


def commission(uow: UnitOfWork, pk: int, event: PreparedEvent, row: dict[str, Any]) -> None:
    """Buffer the units a commissioning event creates (inserted with the group)."""
    assert event.commissioning is not None
    lot, expiry, disposition, commissioned, grade = event.commissioning
    site, line = row["site"], row["line"]
    event_time = row["event_time"]
    batch_gtin, batch_id = "", None
    line_key = (site, line, event_time)  # one tuple shared by the event's units
    pending = uow.pending
    for unit in commissioned:
        earlier = pending.get(unit)
        if earlier is not None:
            uow.alert(
                "duplicate_commission",
                unit.key,
                row["event_id"],
                "serial commissioned twice in one document; one unit kept"
                if earlier["_doc"] == uow.doc
                else "serial already commissioned; no second unit created",
            )
            continue
        if lot is not None and unit.gtin != batch_gtin:
            batch_gtin, batch_id = unit.gtin, _batch(uow, unit.gtin, lot, expiry, row)
        pending[unit] = {
            "gtin": unit.gtin,
            "serial": unit.serial,
            "batch_id": batch_id,
            "parent_id": None,
            "shipment_id": None,
            "status": "active",
            "status_reason": None,
            "disposition": disposition,
            "commission_event": pk,
            "grade": grade[0] if grade else None,
            "grade_detail": grade[1] if grade else None,
            "parent_at": None,  # the driver's value of _parent_at
            "scheme": unit.scheme,
            "_parent_at": None,
            "_event_id": row["event_id"],
            "_line": line_key,
            "_doc": uow.doc,
        }


def _batch(uow: UnitOfWork, gtin: str, lot: str, expiry: str | None, row: dict[str, Any]) -> int:
    cached = uow.batch_ids.get((gtin, lot))
    if cached is not None:
        return cached
    conn = uow.conn
    where = and_(batches.c.gtin == gtin, batches.c.lot == lot)
    found = conn.execute(select(batches.c.id, batches.c.expiry).where(where)).first()
    if found is None:
        conn.execute(
            insert_ignore(conn, batches),
            {
                "gtin": gtin,
                "lot": lot,
                "expiry": expiry,
                "site": row["site"],
                "line": row["line"],
                "first_seen": row["event_time"],
            },
        )
        found = conn.execute(select(batches.c.id, batches.c.expiry).where(where)).one()
    if expiry is not None and found.expiry is None:
        # The batch was first named without its expiry (a transformation's output lot).
        conn.execute(update(batches).where(batches.c.id == found.id).values(expiry=expiry))
    elif expiry is not None and found.expiry != expiry:
        uow.alert(
            "batch_mismatch",
            lot_key(gtin, lot),
            row["event_id"],
            f"expiry {expiry!r} differs from the batch's {found.expiry!r}",
        )
    uow.batch_ids[(gtin, lot)] = found.id
    return int(found.id)


def derive(
    uow: UnitOfWork,
    pk: int,
    event: dict[str, Any],
    event_time: datetime,
    named: Contents | None,
) -> None:
    """Apply an ObjectEvent other than a commissioning (shipping, decommissioning)."""
    named = named if named is not None else contents_of(event)
    if named is None:
        return
    step = cbv_term(event.get("bizStep"))
    if step == "shipping":
        _ship(uow, pk, event, event_time, named)
    elif step in DECOMMISSIONING_STEPS or event.get("action") == "DELETE":
        _decommission(uow, pk, event, step, named)


def _decommission(
    uow: UnitOfWork, pk: int, event: dict[str, Any], step: str | None, named: Contents
) -> None:
    status = "destroyed" if step == "destroying" else "decommissioned"
    values = {
        "status": status,
        "status_reason": step or "action DELETE",
        "disposition": cbv_term(event.get("disposition")) or "inactive",
    }
    for sscc, epc in named.ssccs:
        container = uow.container(sscc, epc)
        uow.conn.execute(
            update(containers)
            .where(containers.c.id == container.id)
            .values(status="decommissioned")
        )
    if named.units:
        uow.update_units(pk, named.units, values)


def _ship(
    uow: UnitOfWork, pk: int, event: dict[str, Any], event_time: datetime, named: Contents
) -> None:
    conn = uow.conn
    destinations = {
        cbv_term(item.get("type")): item.get("destination")
        for item in event.get("destinationList") or ()
        if isinstance(item, dict)
    }
    transactions = [
        item.get("bizTransaction")
        for item in event.get("bizTransactionList") or ()
        if isinstance(item, dict)
    ]
    container_ids = [uow.container(sscc, epc).id for sscc, epc in named.ssccs]
    ssccs = [sscc for sscc, _ in named.ssccs]
    existing = conn.execute(select(shipments.c.id).where(shipments.c.event_pk == pk)).scalar()
    if existing is None:
        existing = conn.execute(
            shipments.insert().returning(shipments.c.id),
            {
                "event_pk": pk,
                "shipped_at": event_time,
                "destination": destinations.get("location") or destinations.get("owning_party"),
                "customer": destinations.get("owning_party")
                or destinations.get("possessing_party"),
                "biz_transaction": transactions[0] if transactions else None,
                "ssccs": json.dumps(ssccs),
                "detail": json.dumps(
                    {
                        "sourceList": event.get("sourceList") or [],
                        "destinationList": event.get("destinationList") or [],
                        "bizTransactionList": event.get("bizTransactionList") or [],
                    }
                ),
            },
        ).scalar_one()
    for part in chunks(container_ids):
        conn.execute(
            update(containers).where(containers.c.id.in_(part)).values(shipment_id=existing)
        )
    if named.units:
        uow.update_units(pk, named.units, {"shipment_id": existing})


def retract(uow: UnitOfWork, pk: int, event: dict[str, Any]) -> None:
    """Undo what an erroneous ObjectEvent asserted, where the state is still the one it set:
    a shipment leaves its units and containers, a commissioning's units still active are
    decommissioned (reason ``error_declaration``), a decommissioning's units are active
    again."""
    conn = uow.conn
    action = event.get("action")
    step = cbv_term(event.get("bizStep"))
    named = contents_of(event)
    if step == "shipping":
        shipment = conn.execute(select(shipments.c.id).where(shipments.c.event_pk == pk)).scalar()
        if shipment is not None:
            conn.execute(
                update(units).where(units.c.shipment_id == shipment).values(shipment_id=None)
            )
            conn.execute(
                update(containers)
                .where(containers.c.shipment_id == shipment)
                .values(shipment_id=None)
            )
    elif action == "ADD" and step == "commissioning":
        conn.execute(
            update(units)
            .where(units.c.commission_event == pk, units.c.status == "active")
            .values(status="decommissioned", status_reason="error_declaration")
        )
    elif named is not None and (step in DECOMMISSIONING_STEPS or action == "DELETE"):
        reason = step or "action DELETE"
        for unit in named.units:
            conn.execute(
                update(units)
                .where(
                    unit_is(unit),
                    units.c.status != "active",
                    units.c.status_reason == reason,
                )
                .values(status="active", status_reason=None)
            )
