"""Batch record (production, inspection, raw-material lots) and QA release with a signature.

A batch has no ``qa_batch_status`` row until QA decides: it is in quarantine. Allowed moves:
quarantine → released | rejected, released → quarantine (a hold). Release needs a
production record whose counts reconcile and at least one inspection, all passed. Every
move is signed (:mod:`server.qa.signatures`) and recorded in the audit trail.

Duties are segregated: only a QA user may sign a move (an admin may not), and the user who
recorded the production record may not release the batch (unless the server allows it,
``producer_may_release``).

The record is locked once the batch is released (or rejected): its production record
(deviations included), inspections and raw-material lots are read only. To change it, QA
places the batch on hold (signed); a change to the record of a batch that was ever
released then needs a reason and the changer's own signature (meaning "Approve change to a
released batch record"), and the batch needs a new release signature. The audit trail keeps
every version (old and new values); :func:`history` lists them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select

from server import audit
from server.auth import Role, User
from server.errors import NotFound
from server.production.tables import batch_orders
from server.qa.errors import DutyRefused, NotShippable, SignatureRequired, TransitionRefused
from server.qa.signatures import Meaning, Signature, cross_check, sign
from server.qa.tables import (
    qa_batch_status,
    qa_inspections,
    qa_material_lots,
    qa_production_records,
    qa_signatures,
)
from server.store.dialect import chunks
from server.store.schema import audit_trail, batch_inputs, batches, containers, units


class BatchStatus(StrEnum):
    QUARANTINE = "quarantine"
    RELEASED = "released"
    REJECTED = "rejected"


ALLOWED = {
    BatchStatus.QUARANTINE: frozenset({BatchStatus.RELEASED, BatchStatus.REJECTED}),
    BatchStatus.RELEASED: frozenset({BatchStatus.QUARANTINE}),
    BatchStatus.REJECTED: frozenset(),
}
#: The meaning each move is signed with (from the fixed list :class:`Meaning`).
MEANINGS = {
    BatchStatus.RELEASED: Meaning.RELEASE,
    BatchStatus.REJECTED: Meaning.REJECT,
    BatchStatus.QUARANTINE: Meaning.HOLD,
}
#: Who may sign a status change, and who may write a batch's record (no admin: IT runs the
#: accounts, not the GMP decisions).
SIGNERS = frozenset({Role.QA})
PRODUCTION_WRITERS = frozenset({Role.OPERATOR, Role.QA})
INSPECTION_WRITERS = frozenset({Role.QA})


@dataclass(frozen=True)
class BatchRef:
    id: int
    gtin: str
    lot: str

    @property
    def key(self) -> str:
        return f"(01){self.gtin}(10){self.lot}"


@dataclass(frozen=True)
class ProductionRecord:
    line: str
    started_at: datetime
    finished_at: datetime | None
    planned: int
    produced: int
    rejected: int
    sampled: int
    scrapped: int
    deviations: list[dict[str, str]]
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Inspection:
    id: int
    test: str
    specification: str
    result: str
    passed: bool
    tested_at: datetime
    approved_by: str


@dataclass(frozen=True)
class MaterialLot:
    id: int
    material: str
    supplier: str
    supplier_lot: str
    received_at: datetime
    quantity: float | None
    uom: str | None


@dataclass(frozen=True)
class Reconciliation:
    """``produced = commissioned + rejected + sampled + scrapped``, exactly."""

    produced: int
    commissioned: int
    rejected: int
    sampled: int
    scrapped: int

    @property
    def balanced(self) -> bool:
        return self.produced == self.commissioned + self.rejected + self.sampled + self.scrapped

    @property
    def difference(self) -> int:
        return self.produced - (self.commissioned + self.rejected + self.sampled + self.scrapped)


@dataclass(frozen=True)
class BatchRecord:
    gtin: str
    lot: str
    expiry: str | None
    status: BatchStatus
    disposition: str
    signature: Signature | None
    production: ProductionRecord | None
    reconciliation: Reconciliation | None
    inspections: list[Inspection]
    material_lots: list[MaterialLot]
    epcis_inputs: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    locked: bool = False  # released or rejected: the record is read only
    integrity: list[str] = field(default_factory=list)  # differences from the audit trail
    # The batch order the batch was made from (server/production), beside the record: its
    # plan (quantity, lot rule, manufacturing date, expiry and why it was overridden) and the
    # line's counts at batch close. None for a batch started without an order.
    order: dict[str, Any] | None = None


def find_batch(conn: Connection, gtin: str, lot: str) -> BatchRef:
    row = conn.execute(
        select(batches.c.id).where(batches.c.gtin == gtin, batches.c.lot == lot)
    ).first()
    if row is None:
        raise NotFound(f"batch: GTIN {gtin} lot {lot!r} unknown")
    return BatchRef(int(row.id), gtin, lot)


def batch_by_id(conn: Connection, batch_id: int) -> BatchRef:
    row = conn.execute(
        select(batches.c.gtin, batches.c.lot).where(batches.c.id == batch_id)
    ).first()
    if row is None:
        raise NotFound(f"batch: id {batch_id} unknown")
    return BatchRef(batch_id, row.gtin, row.lot)


def batch_status(conn: Connection, batch_id: int) -> BatchStatus:
    value = conn.execute(
        select(qa_batch_status.c.status).where(qa_batch_status.c.batch_id == batch_id)
    ).scalar()
    return BatchStatus.QUARANTINE if value is None else BatchStatus(value)


# -- records ------------------------------------------------------------------------------


def record_production(
    conn: Connection,
    batch: BatchRef,
    record: ProductionRecord,
    *,
    reason: str,
    user: User | None = None,
    password: str | None = None,
) -> None:
    """Create or replace the batch's production record (audited with old and new); refused
    while the record is locked, signed when the batch was released before."""
    signer = _editable(conn, batch, user, password)
    old = production_record(conn, batch.id)
    values = {
        "line": record.line,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "planned": record.planned,
        "produced": record.produced,
        "rejected": record.rejected,
        "sampled": record.sampled,
        "scrapped": record.scrapped,
        "deviations": json.dumps(record.deviations),
        "updated_at": record.updated_at,
        "updated_by": record.updated_by,
    }
    if old is None:
        conn.execute(qa_production_records.insert(), {"batch_id": batch.id, **values})
    else:
        conn.execute(
            qa_production_records.update()
            .where(qa_production_records.c.batch_id == batch.id)
            .values(**values)
        )
    _audit_change(
        conn,
        batch,
        signer,
        password,
        actor=record.updated_by,
        action="production_record",
        old_value=None if old is None else _jsonable(old),
        new_value=_jsonable(record),
        reason=reason,
        now=record.updated_at,
    )


def add_inspection(
    conn: Connection,
    batch: BatchRef,
    *,
    test: str,
    specification: str,
    result: str,
    passed: bool,
    tested_at: datetime,
    approver: User,
    now: datetime,
    reason: str,
    password: str | None = None,
) -> int:
    """A QC test result, approved by ``approver`` (the QA user recording it)."""
    signer = _editable(conn, batch, approver, password)
    values = {
        "test": test,
        "specification": specification,
        "result": result,
        "passed": 1 if passed else 0,
        "tested_at": tested_at,
        "approved_by": approver.username,
    }
    inspection_id = conn.execute(
        qa_inspections.insert().returning(qa_inspections.c.id),
        {"batch_id": batch.id, "recorded_at": now, **values},
    ).scalar_one()
    _audit_change(
        conn,
        batch,
        signer,
        password,
        actor=approver.username,
        action="inspection",
        old_value=None,
        new_value={
            **values,
            "id": int(inspection_id),
            "passed": passed,
            "tested_at": tested_at.isoformat(),
        },
        reason=reason,
        now=now,
    )
    return int(inspection_id)


def add_material_lot(
    conn: Connection,
    batch: BatchRef,
    *,
    material: str,
    supplier: str,
    supplier_lot: str,
    received_at: datetime,
    quantity: float | None,
    uom: str | None,
    user: User,
    now: datetime,
    reason: str,
    password: str | None = None,
) -> int:
    signer = _editable(conn, batch, user, password)
    values = {
        "material": material,
        "supplier": supplier,
        "supplier_lot": supplier_lot,
        "received_at": received_at,
        "quantity": quantity,
        "uom": uom,
    }
    lot_id = conn.execute(
        qa_material_lots.insert().returning(qa_material_lots.c.id),
        {"batch_id": batch.id, "recorded_by": user.username, **values},
    ).scalar_one()
    _audit_change(
        conn,
        batch,
        signer,
        password,
        actor=user.username,
        action="material_lot",
        old_value=None,
        new_value={**values, "id": int(lot_id), "received_at": received_at.isoformat()},
        reason=reason,
        now=now,
    )
    return int(lot_id)


def ever_released(conn: Connection, batch: BatchRef) -> bool:
    """Whether the batch was released at some time (the audit trail says so)."""
    return (
        conn.execute(
            select(audit_trail.c.id)
            .where(
                audit_trail.c.entity == "batch",
                audit_trail.c.entity_key == batch.key,
                audit_trail.c.action == "batch_released",
            )
            .limit(1)
        ).first()
        is not None
    )


def _editable(
    conn: Connection, batch: BatchRef, user: User | None, password: str | None
) -> User | None:
    """Refuse a change to a locked record; the user who must sign the change when the batch
    was released before (None: no signature needed)."""
    status = batch_status(conn, batch.id)
    if status is not BatchStatus.QUARANTINE:
        raise TransitionRefused(
            f"record: batch {batch.key} is {status.value}, so its record is locked; "
            + (
                "place the batch on hold (signed) to change it"
                if status is BatchStatus.RELEASED
                else "a rejected batch is final"
            )
        )
    if not ever_released(conn, batch):
        return None
    if user is None or not password:
        raise SignatureRequired(
            f"password: batch {batch.key} was released before, so a change to its record "
            "needs a reason and your electronic signature (password)"
        )
    return user


def _audit_change(
    conn: Connection,
    batch: BatchRef,
    signer: User | None,
    password: str | None,
    *,
    actor: str,
    action: str,
    old_value: Any,
    new_value: dict[str, Any],
    reason: str,
    now: datetime,
) -> None:
    """Audit a change to the record; signed by ``signer`` when one is needed."""
    if signer is None:
        audit.append(
            conn,
            actor=actor,
            action=action,
            entity="batch",
            entity_key=batch.key,
            old_value=old_value,
            new_value=new_value,
            reason=reason,
            now=now,
        )
        return
    assert password is not None
    sign(
        conn,
        signer,
        password,
        meaning=Meaning.CORRECTION,
        entity="batch",
        entity_key=batch.key,
        action=action,
        old_value=old_value,
        new_value=new_value,
        reason=reason,
        now=now,
    )


def production_record(conn: Connection, batch_id: int) -> ProductionRecord | None:
    row = conn.execute(
        select(qa_production_records).where(qa_production_records.c.batch_id == batch_id)
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values.pop("batch_id")
    values["deviations"] = json.loads(values["deviations"])
    return ProductionRecord(**values)


def inspections(conn: Connection, batch_id: int) -> list[Inspection]:
    rows = conn.execute(
        select(qa_inspections)
        .where(qa_inspections.c.batch_id == batch_id)
        .order_by(qa_inspections.c.id)
    )
    return [
        Inspection(
            id=row.id,
            test=row.test,
            specification=row.specification,
            result=row.result,
            passed=bool(row.passed),
            tested_at=row.tested_at,
            approved_by=row.approved_by,
        )
        for row in rows
    ]


def material_lots(conn: Connection, batch_id: int) -> list[MaterialLot]:
    rows = conn.execute(
        select(qa_material_lots)
        .where(qa_material_lots.c.batch_id == batch_id)
        .order_by(qa_material_lots.c.id)
    )
    return [
        MaterialLot(
            id=row.id,
            material=row.material,
            supplier=row.supplier,
            supplier_lot=row.supplier_lot,
            received_at=row.received_at,
            quantity=row.quantity,
            uom=row.uom,
        )
        for row in rows
    ]


def epcis_inputs(conn: Connection, batch_id: int) -> list[dict[str, Any]]:
    """Raw-material lots named as inputs by TransformationEvents from the edge."""
    rows = conn.execute(
        select(batch_inputs.c.input, batch_inputs.c.quantity, batch_inputs.c.uom)
        .where(batch_inputs.c.batch_id == batch_id)
        .order_by(batch_inputs.c.id)
    )
    return [dict(row._mapping) for row in rows]


def reconciliation(conn: Connection, batch_id: int) -> Reconciliation | None:
    record = production_record(conn, batch_id)
    if record is None:
        return None
    commissioned = conn.execute(
        select(func.count()).select_from(units).where(units.c.batch_id == batch_id)
    ).scalar_one()
    return Reconciliation(
        produced=record.produced,
        commissioned=int(commissioned),
        rejected=record.rejected,
        sampled=record.sampled,
        scrapped=record.scrapped,
    )


def latest_signature(conn: Connection, batch: BatchRef) -> Signature | None:
    row = conn.execute(
        select(qa_signatures)
        .where(qa_signatures.c.entity == "batch", qa_signatures.c.entity_key == batch.key)
        .order_by(qa_signatures.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else Signature.of_row(row)


ORDER_FIELDS = (
    "number", "planned", "lot_source", "manufacturing_date", "expiry", "expiry_computed",
    "expiry_reason", "site", "line", "state", "created_by", "released_by", "confirmed_by",
)  # fmt: skip


def batch_order(conn: Connection, gtin: str, lot: str) -> dict[str, Any] | None:
    """The (latest, not cancelled) batch order that made this lot, or None."""
    row = conn.execute(
        select(batch_orders)
        .where(
            batch_orders.c.gtin == gtin,
            batch_orders.c.lot == lot,
            batch_orders.c.state != "cancelled",
        )
        .order_by(batch_orders.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    order: dict[str, Any] = {key: getattr(row, key) for key in ORDER_FIELDS}
    order["planned"] = int(order["planned"])
    order["materials"] = json.loads(row.materials)
    order["line_counts"] = None if row.reconciliation is None else json.loads(row.reconciliation)
    for key in ("created_at", "released_at", "started_at", "closed_at"):
        value = getattr(row, key)
        order[key] = None if value is None else value.isoformat()
    return order


def batch_record(conn: Connection, gtin: str, lot: str) -> BatchRecord:
    batch = find_batch(conn, gtin, lot)
    row = conn.execute(
        select(batches.c.expiry, batches.c.disposition).where(batches.c.id == batch.id)
    ).one()
    counts = {
        status: int(count)
        for status, count in conn.execute(
            select(units.c.status, func.count())
            .where(units.c.batch_id == batch.id)
            .group_by(units.c.status)
        )
    }
    status = batch_status(conn, batch.id)
    return BatchRecord(
        gtin=gtin,
        lot=lot,
        expiry=row.expiry,
        status=status,
        disposition=row.disposition,
        signature=latest_signature(conn, batch),
        production=production_record(conn, batch.id),
        reconciliation=reconciliation(conn, batch.id),
        inspections=inspections(conn, batch.id),
        material_lots=material_lots(conn, batch.id),
        epcis_inputs=epcis_inputs(conn, batch.id),
        counts=counts,
        locked=status is not BatchStatus.QUARANTINE,
        integrity=[
            problem.detail
            for problem in cross_check(conn)
            if f"batch {batch.key}" in problem.detail
        ],
        order=batch_order(conn, gtin, lot),
    )


def history(conn: Connection, batch: BatchRef) -> list[audit.AuditEntry]:
    """Every recorded change of the batch, oldest first, with old and new values and the
    signatures: each version of its production record, its inspections, materials,
    decisions and recall."""
    return audit.entries(conn, entity="batch", entity_key=batch.key, limit=100_000)


def producers(conn: Connection, batch: BatchRef) -> set[str]:
    """The users who recorded (a version of) the batch's production record."""
    return {
        str(actor)
        for actor in conn.execute(
            select(audit_trail.c.actor).where(
                audit_trail.c.entity == "batch",
                audit_trail.c.entity_key == batch.key,
                audit_trail.c.action == "production_record",
            )
        ).scalars()
    }


# -- release ------------------------------------------------------------------------------


def release_blockers(conn: Connection, batch_id: int) -> list[str]:
    """Why the batch cannot be released yet (empty when it can)."""
    blockers = []
    balance = reconciliation(conn, batch_id)
    if balance is None:
        blockers.append("no production record")
    elif not balance.balanced:
        blockers.append(
            f"counts do not reconcile: produced {balance.produced} != commissioned "
            f"{balance.commissioned} + rejected {balance.rejected} + sampled "
            f"{balance.sampled} + scrapped {balance.scrapped}"
        )
    results = inspections(conn, batch_id)
    if not results:
        blockers.append("no inspection results")
    blockers.extend(
        f"inspection {item.test!r} failed: {item.result}" for item in results if not item.passed
    )
    return blockers


def change_status(
    conn: Connection,
    batch: BatchRef,
    target: BatchStatus,
    *,
    user: User,
    password: str,
    reason: str,
    now: datetime,
    meaning: str | None = None,
    producer_may_release: bool = False,
) -> Signature:
    """Move the batch to ``target`` with the user's electronic signature; audited.

    Refused (:class:`DutyRefused`) unless the user is QA, and for a release when the user
    recorded the production record (unless ``producer_may_release``)."""
    if user.role not in SIGNERS:
        raise DutyRefused(
            f"role: only QA may release, reject or hold a batch; user {user.username!r} is "
            f"{user.role.value}"
        )
    signed_meaning = MEANINGS[target]
    if meaning is not None and meaning != signed_meaning.value:
        allowed = ", ".join(repr(m.value) for m in Meaning)
        if meaning not in {m.value for m in Meaning}:
            raise ValueError(f"meaning: expected one of {allowed}, got {meaning!r}")
        raise ValueError(
            f"meaning: a move to {target.value} is signed as {signed_meaning.value!r}, "
            f"got {meaning!r}"
        )
    current = batch_status(conn, batch.id)
    if target not in ALLOWED[current]:
        raise TransitionRefused(
            f"status: batch {batch.key} is {current.value}, cannot become {target.value}"
        )
    if target is BatchStatus.RELEASED:
        if not producer_may_release and user.username in producers(conn, batch):
            raise DutyRefused(
                f"segregation of duties: user {user.username!r} recorded the production "
                f"record of batch {batch.key}, so another QA user must release it"
            )
        blockers = release_blockers(conn, batch.id)
        if blockers:
            raise TransitionRefused(f"release of batch {batch.key} refused: {'; '.join(blockers)}")
    signature = sign(
        conn,
        user,
        password,
        meaning=signed_meaning,
        entity="batch",
        entity_key=batch.key,
        old_value={"status": current.value},
        new_value={"status": target.value},
        action=f"batch_{target.value}",
        reason=reason,
        now=now,
    )
    row = {"status": target.value, "signature_id": signature.id, "changed_at": now}
    exists = conn.execute(
        select(qa_batch_status.c.batch_id).where(qa_batch_status.c.batch_id == batch.id)
    ).first()
    if exists is None:
        conn.execute(qa_batch_status.insert(), {"batch_id": batch.id, **row})
    else:
        conn.execute(
            qa_batch_status.update().where(qa_batch_status.c.batch_id == batch.id).values(**row)
        )
    return signature


# -- shipping -----------------------------------------------------------------------------


def assert_shippable(conn: Connection, sscc_list: Sequence[str]) -> None:
    """Raise :class:`NotShippable` unless every unit inside the SSCCs (18-digit values)
    belongs to a released batch that is not under recall."""
    if not sscc_list:
        return
    top = conn.execute(
        select(containers.c.id, containers.c.sscc).where(containers.c.sscc.in_(list(sscc_list)))
    ).all()
    root_of = {int(row.id): row.sscc for row in top}
    frontier = list(root_of)
    for _ in range(16):
        if not frontier:
            break
        children: list[Any] = []
        for part in chunks(frontier):
            children.extend(
                conn.execute(
                    select(containers.c.id, containers.c.parent_id).where(
                        containers.c.parent_id.in_(part)
                    )
                ).all()
            )
        frontier = []
        for child in children:
            if int(child.id) not in root_of:
                root_of[int(child.id)] = root_of[int(child.parent_id)]
                frontier.append(int(child.id))
    found: dict[int, str] = {}
    ids = list(root_of)
    for part in chunks(ids):
        for batch_id, parent_id in conn.execute(
            select(units.c.batch_id, func.min(units.c.parent_id))
            .where(units.c.parent_id.in_(part), units.c.batch_id.is_not(None))
            .group_by(units.c.batch_id)
        ):
            found.setdefault(int(batch_id), root_of[int(parent_id)])
    for batch_id, sscc in sorted(found.items(), key=lambda item: item[1]):
        batch = batch_by_id(conn, batch_id)
        status = batch_status(conn, batch_id)
        disposition = conn.execute(
            select(batches.c.disposition).where(batches.c.id == batch_id)
        ).scalar_one()
        if disposition == "recalled":
            raise NotShippable(f"ssccs: {sscc} holds units of batch {batch.key}, which is recalled")
        if status is not BatchStatus.RELEASED:
            raise NotShippable(
                f"ssccs: {sscc} holds units of batch {batch.key}, which is {status.value}; "
                "expected released"
            )


def _jsonable(value: Any) -> dict[str, Any]:
    out = {}
    for key, item in vars(value).items():
        out[key] = item.isoformat() if isinstance(item, datetime) else item
    return out
