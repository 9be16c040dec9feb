"""Recalls: the reach of one or more batches (or a raw-material lot) frozen at opening,
returned units counted against it, effectiveness = returned shipped units / shipped units.

Opening a recall also sets each batch's disposition to ``recalled`` (so verification
answers "recalled" and shipping is refused) and audits the recall and every batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from server import audit
from server.auth import User
from server.errors import NotFound
from server.identifiers import unit_from_code
from server.qa.errors import TransitionRefused
from server.qa.genealogy import batches_for_material
from server.qa.release import BatchRef
from server.qa.tables import (
    qa_recall_containers,
    qa_recall_customers,
    qa_recall_units,
    qa_recalls,
)
from server.store.dialect import bulk_insert
from server.store.queries import Reach, level_name, reach_of_batch
from server.store.schema import batches


class RecallClass(StrEnum):
    I = "I"  # noqa: E741 - the regulators' own name for the class
    II = "II"
    III = "III"


@dataclass(frozen=True)
class CustomerLine:
    shipment_id: int
    shipped_at: datetime
    customer: str | None
    destination: str | None
    biz_transaction: str | None
    ssccs: list[str]
    units: int
    returned: int


@dataclass(frozen=True)
class RecallStatus:
    id: int
    recall_class: str
    reason: str
    scope: dict[str, Any]
    status: str
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    units: int
    cases: int
    pallets: int
    shipped_units: int
    returned_units: int
    returned_shipped_units: int
    effectiveness: float | None  # returned shipped / shipped; None when nothing shipped
    customers: list[CustomerLine]


@dataclass(frozen=True)
class ReturnOutcome:
    """What happened to one scanned or typed code (an outcome, never an exception)."""

    code: str
    result: str  # counted | already_returned | not_in_recall | unreadable
    gtin: str | None = None
    serial: str | None = None


def open_recall(
    conn: Connection,
    *,
    batch_refs: list[BatchRef],
    material_lot: str | None,
    recall_class: RecallClass,
    reason: str,
    user: User,
    now: datetime,
) -> int:
    """Compute and freeze the reach; returns the recall id."""
    targets = list(batch_refs)
    if material_lot is not None:
        targets.extend(batches_for_material(conn, material_lot))
    unique = {ref.id: ref for ref in targets}
    if not unique:
        raise ValueError("batches: expected at least one batch or a material_lot, got none")
    scope = {
        "batches": [ref.key for ref in unique.values()],
        "material_lot": material_lot,
    }
    recall_id = int(
        conn.execute(
            qa_recalls.insert().returning(qa_recalls.c.id),
            {
                "recall_class": recall_class.value,
                "reason": reason,
                "scope": json.dumps(scope),
                "status": "open",
                "opened_at": now,
                "opened_by": user.username,
            },
        ).scalar_one()
    )
    totals = {"units": 0, "shipments": 0}
    for ref in unique.values():
        reach = reach_of_batch(conn, ref.id, ref.gtin, ref.lot)
        _freeze(conn, recall_id, reach)
        totals["units"] += len(reach.unit_rows)
        old = conn.execute(select(batches.c.disposition).where(batches.c.id == ref.id)).scalar_one()
        if old != "recalled":
            conn.execute(
                update(batches)
                .where(batches.c.id == ref.id)
                .values(disposition="recalled", recalled_at=now, recall_reason=reason)
            )
            audit.append(
                conn,
                actor=user.username,
                action="recall",
                entity="batch",
                entity_key=ref.key,
                old_value={"disposition": old},
                new_value={"disposition": "recalled", "recall": recall_id},
                reason=reason,
                now=now,
            )
    totals["shipments"] = int(
        conn.execute(
            select(func.count())
            .select_from(qa_recall_customers)
            .where(qa_recall_customers.c.recall_id == recall_id)
        ).scalar_one()
    )
    audit.append(
        conn,
        actor=user.username,
        action="recall_open",
        entity="recall",
        entity_key=str(recall_id),
        old_value=None,
        new_value={"class": recall_class.value, "scope": scope, **totals},
        reason=reason,
        now=now,
    )
    return recall_id


def _freeze(conn: Connection, recall_id: int, reach: Reach) -> None:
    unit_rows = [
        (recall_id, unit_id, gtin, serial, reach.batch_id, shipment_id)
        for unit_id, gtin, serial, _status, _parent, shipment_id in reach.unit_rows
    ]
    for start in range(0, len(unit_rows), 10_000):
        bulk_insert(
            conn,
            qa_recall_units,
            ("recall_id", "unit_id", "gtin", "serial", "batch_id", "shipment_id"),
            unit_rows[start : start + 10_000],
            ignore_conflicts=True,
        )
    container_rows = [
        (
            recall_id,
            sscc,
            level_name(level),
            reach.containers[parent][0] if parent in reach.containers else None,
        )
        for sscc, level, parent in reach.containers.values()
    ]
    bulk_insert(
        conn,
        qa_recall_containers,
        ("recall_id", "sscc", "level", "parent_sscc"),
        container_rows,
        ignore_conflicts=True,
    )
    for shipment in reach.shipments:
        existing = conn.execute(
            select(qa_recall_customers.c.units).where(
                qa_recall_customers.c.recall_id == recall_id,
                qa_recall_customers.c.shipment_id == shipment.id,
            )
        ).scalar()
        if existing is None:
            conn.execute(
                qa_recall_customers.insert(),
                {
                    "recall_id": recall_id,
                    "shipment_id": shipment.id,
                    "shipped_at": datetime.fromisoformat(shipment.shipped_at),
                    "customer": shipment.customer,
                    "destination": shipment.destination,
                    "biz_transaction": shipment.biz_transaction,
                    "units": shipment.units,
                    "ssccs": json.dumps(shipment.ssccs),
                },
            )
        else:
            conn.execute(
                update(qa_recall_customers)
                .where(
                    qa_recall_customers.c.recall_id == recall_id,
                    qa_recall_customers.c.shipment_id == shipment.id,
                )
                .values(units=existing + shipment.units)
            )


def _recall_row(conn: Connection, recall_id: int) -> Any:
    row = conn.execute(select(qa_recalls).where(qa_recalls.c.id == recall_id)).first()
    if row is None:
        raise NotFound(f"recall: id {recall_id} unknown")
    return row


def recall_status(conn: Connection, recall_id: int) -> RecallStatus:
    row = _recall_row(conn, recall_id)
    ru = qa_recall_units
    counts = conn.execute(
        select(
            func.count(),
            func.count(ru.c.shipment_id),
            func.count(ru.c.returned_at),
        ).where(ru.c.recall_id == recall_id)
    ).one()
    levels: dict[str, int] = dict(
        conn.execute(
            select(qa_recall_containers.c.level, func.count())
            .where(qa_recall_containers.c.recall_id == recall_id)
            .group_by(qa_recall_containers.c.level)
        ).all()
    )
    returned_by_shipment: dict[int, int] = dict(
        conn.execute(
            select(ru.c.shipment_id, func.count())
            .where(
                ru.c.recall_id == recall_id,
                ru.c.returned_at.is_not(None),
                ru.c.shipment_id.is_not(None),
            )
            .group_by(ru.c.shipment_id)
        ).all()
    )
    customers = [
        CustomerLine(
            shipment_id=c.shipment_id,
            shipped_at=c.shipped_at,
            customer=c.customer,
            destination=c.destination,
            biz_transaction=c.biz_transaction,
            ssccs=json.loads(c.ssccs),
            units=c.units,
            returned=int(returned_by_shipment.get(c.shipment_id, 0)),
        )
        for c in conn.execute(
            select(qa_recall_customers)
            .where(qa_recall_customers.c.recall_id == recall_id)
            .order_by(qa_recall_customers.c.customer, qa_recall_customers.c.shipped_at)
        )
    ]
    total, shipped, returned = (int(counts[i] or 0) for i in range(3))
    returned_shipped = sum(int(n) for n in returned_by_shipment.values())
    return RecallStatus(
        id=row.id,
        recall_class=row.recall_class,
        reason=row.reason,
        scope=json.loads(row.scope),
        status=row.status,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        closed_at=row.closed_at,
        units=total,
        cases=int(levels.get("case", 0)),
        pallets=int(levels.get("pallet", 0)),
        shipped_units=shipped,
        returned_units=returned,
        returned_shipped_units=returned_shipped,
        effectiveness=None if shipped == 0 else returned_shipped / shipped,
        customers=customers,
    )


def list_recalls(conn: Connection) -> list[RecallStatus]:
    ids = conn.execute(select(qa_recalls.c.id).order_by(qa_recalls.c.id.desc())).scalars()
    return [recall_status(conn, int(i)) for i in ids]


def record_returns(
    conn: Connection, recall_id: int, codes: list[str], *, user: User, now: datetime
) -> list[ReturnOutcome]:
    """Count returned units (any unit code form); each code gets an outcome."""
    row = _recall_row(conn, recall_id)
    if row.status != "open":
        raise TransitionRefused(f"recall: {recall_id} is {row.status}, returns need it open")
    outcomes = []
    counted = []
    for code in codes:
        unit = unit_from_code(code)
        if unit is None:
            outcomes.append(ReturnOutcome(code, "unreadable"))
            continue
        match = and_(
            qa_recall_units.c.recall_id == recall_id,
            qa_recall_units.c.gtin == unit.gtin,
            qa_recall_units.c.serial == unit.serial,
        )
        current = conn.execute(select(qa_recall_units.c.returned_at).where(match)).first()
        if current is None:
            outcomes.append(ReturnOutcome(code, "not_in_recall", unit.gtin, unit.serial))
        elif current.returned_at is not None:
            outcomes.append(ReturnOutcome(code, "already_returned", unit.gtin, unit.serial))
        else:
            conn.execute(
                update(qa_recall_units)
                .where(match)
                .values(returned_at=now, returned_by=user.username)
            )
            outcomes.append(ReturnOutcome(code, "counted", unit.gtin, unit.serial))
            counted.append(f"(01){unit.gtin}(21){unit.serial}")
    if counted:
        audit.append(
            conn,
            actor=user.username,
            action="recall_return",
            entity="recall",
            entity_key=str(recall_id),
            old_value=None,
            new_value={"returned": counted},
            reason=f"{len(counted)} returned units verified",
            now=now,
        )
    return outcomes


def close_recall(
    conn: Connection, recall_id: int, *, user: User, reason: str, now: datetime
) -> None:
    row = _recall_row(conn, recall_id)
    if row.status != "open":
        raise TransitionRefused(f"recall: {recall_id} is {row.status}, expected open")
    conn.execute(
        update(qa_recalls)
        .where(qa_recalls.c.id == recall_id)
        .values(status="closed", closed_at=now)
    )
    status = recall_status(conn, recall_id)
    audit.append(
        conn,
        actor=user.username,
        action="recall_close",
        entity="recall",
        entity_key=str(recall_id),
        old_value={"status": "open"},
        new_value={
            "status": "closed",
            "shipped_units": status.shipped_units,
            "returned_shipped_units": status.returned_shipped_units,
        },
        reason=reason,
        now=now,
    )
