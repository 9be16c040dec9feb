"""Complaints and feedback: intake from any channel, the code resolved to unit, batch and
shipment, the workflow, notes and attachments, SLA clocks, satisfaction and the dashboard.

Workflow::

    received → acknowledged → investigating → resolved → closed
                          └──────────────────→ resolved → investigating (reopened)

Acknowledging stops the first-response clock, resolving stops the resolution clock.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select, update

import gs1
from server import audit
from server.auth import User
from server.errors import NotFound
from server.identifiers import unit_from_code
from server.qa.errors import TransitionRefused
from server.qa.genealogy import chain_up, sscc_of
from server.qa.sla import QaSettings, SlaClock, SlaPolicy, resolution_clock, response_clock
from server.qa.tables import qa_complaint_notes, qa_complaints
from server.store.schema import batches, containers, units

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


class Channel(StrEnum):
    HOTLINE = "hotline"
    ONLINE = "online"
    SOCIAL = "social"
    DISTRIBUTOR = "distributor"


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    CLOSED = "closed"


NEXT = {
    ComplaintStatus.RECEIVED: frozenset({ComplaintStatus.ACKNOWLEDGED}),
    ComplaintStatus.ACKNOWLEDGED: frozenset(
        {ComplaintStatus.INVESTIGATING, ComplaintStatus.RESOLVED}
    ),
    ComplaintStatus.INVESTIGATING: frozenset({ComplaintStatus.RESOLVED}),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.CLOSED, ComplaintStatus.INVESTIGATING}),
    ComplaintStatus.CLOSED: frozenset(),
}


@dataclass(frozen=True)
class Identified:
    """What a code given by a customer names, as far as the store knows it."""

    gtin: str | None = None
    serial: str | None = None
    batch_id: int | None = None
    shipment_id: int | None = None


@dataclass(frozen=True)
class Note:
    id: int
    at: datetime
    author: str
    text: str
    filename: str | None
    content_type: str | None
    size: int | None


@dataclass(frozen=True)
class Complaint:
    id: int
    channel: str
    received_at: datetime
    reporter: str
    contact: str | None
    description: str
    category: str | None
    code: str | None
    gtin: str | None
    serial: str | None
    lot: str | None
    shipment_id: int | None
    status: str
    owner: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: int | None
    external_ref: str | None
    response_sla: SlaClock
    resolution_sla: SlaClock
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Intake:
    channel: Channel
    reporter: str
    description: str
    contact: str | None = None
    category: str | None = None
    code: str | None = None
    external_ref: str | None = None
    received_at: datetime | None = None  # default: now


def identify(conn: Connection, code: str | None) -> Identified:
    """Resolve any code form: unit (GTIN + serial), SSCC, or GTIN + lot; unknown → empty."""
    if not code:
        return Identified()
    unit = unit_from_code(code)
    if unit is not None:
        row = conn.execute(
            select(units.c.batch_id, units.c.parent_id, units.c.shipment_id).where(
                units.c.gtin == unit.gtin, units.c.serial == unit.serial
            )
        ).first()
        if row is None:
            return Identified(unit.gtin, unit.serial)
        shipment = row.shipment_id
        if shipment is None:
            shipment = next(
                (
                    link["shipment_id"]
                    for link in chain_up(conn, row.parent_id)
                    if link["shipment_id"]
                ),
                None,
            )
        return Identified(unit.gtin, unit.serial, row.batch_id, shipment)
    sscc = sscc_of(code)
    if sscc is not None:
        row = conn.execute(
            select(containers.c.id, containers.c.parent_id, containers.c.shipment_id).where(
                containers.c.sscc == sscc
            )
        ).first()
        if row is None:
            return Identified()
        shipment = row.shipment_id or next(
            (link["shipment_id"] for link in chain_up(conn, row.parent_id) if link["shipment_id"]),
            None,
        )
        batch_id = conn.execute(
            select(units.c.batch_id).where(units.c.parent_id == row.id).limit(1)
        ).scalar()
        return Identified(None, None, batch_id, shipment)
    try:
        parsed = gs1.parse(code)
    except gs1.Gs1Error:
        return Identified()
    gtin = getattr(parsed, "gtin", None)
    lot = getattr(parsed, "lot", None)
    if gtin is None or not lot:
        return Identified()
    gtin_value = str(getattr(gtin, "value", gtin))
    batch_id = conn.execute(
        select(batches.c.id).where(batches.c.gtin == gtin_value, batches.c.lot == str(lot))
    ).scalar()
    return Identified(gtin_value, None, batch_id, None)


def receive(conn: Connection, intake: Intake, *, actor: str, now: datetime) -> int:
    """Record a complaint; returns its id (an existing one for a known ``external_ref``)."""
    if intake.external_ref is not None:
        existing = conn.execute(
            select(qa_complaints.c.id).where(qa_complaints.c.external_ref == intake.external_ref)
        ).scalar()
        if existing is not None:
            return int(existing)
    found = identify(conn, intake.code)
    received_at = intake.received_at or now
    values = {
        "channel": intake.channel.value,
        "received_at": received_at,
        "reporter": intake.reporter,
        "contact": intake.contact,
        "description": intake.description,
        "category": intake.category,
        "code": intake.code,
        "gtin": found.gtin,
        "serial": found.serial,
        "batch_id": found.batch_id,
        "shipment_id": found.shipment_id,
        "status": ComplaintStatus.RECEIVED.value,
        "external_ref": intake.external_ref,
    }
    complaint_id = int(
        conn.execute(qa_complaints.insert().returning(qa_complaints.c.id), values).scalar_one()
    )
    audit.append(
        conn,
        actor=actor,
        action="complaint_received",
        entity="complaint",
        entity_key=str(complaint_id),
        old_value=None,
        new_value={
            **{k: v for k, v in values.items() if k != "received_at"},
            "received_at": received_at.isoformat(),
        },
        reason=f"complaint via {intake.channel.value}",
        now=now,
    )
    return complaint_id


def _row(conn: Connection, complaint_id: int) -> Any:
    row = conn.execute(select(qa_complaints).where(qa_complaints.c.id == complaint_id)).first()
    if row is None:
        raise NotFound(f"complaint: id {complaint_id} unknown")
    return row


def change_status(
    conn: Connection,
    complaint_id: int,
    target: ComplaintStatus,
    *,
    user: User,
    note: str,
    satisfaction: int | None,
    now: datetime,
) -> None:
    row = _row(conn, complaint_id)
    current = ComplaintStatus(row.status)
    if target not in NEXT[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT[current])) or "none"
        raise TransitionRefused(
            f"status: complaint {complaint_id} is {current.value}, expected one of "
            f"{allowed}, got {target.value!r}"
        )
    values: dict[str, Any] = {"status": target.value}
    if target is ComplaintStatus.ACKNOWLEDGED:
        values["acknowledged_at"] = now
        if row.owner is None:
            values["owner"] = user.username
    elif target is ComplaintStatus.RESOLVED:
        values["resolved_at"] = now
    elif target is ComplaintStatus.INVESTIGATING and current is ComplaintStatus.RESOLVED:
        values["resolved_at"] = None
    elif target is ComplaintStatus.CLOSED:
        values["closed_at"] = now
        if satisfaction is not None:
            values["satisfaction"] = satisfaction
    conn.execute(update(qa_complaints).where(qa_complaints.c.id == complaint_id).values(**values))
    _note(conn, complaint_id, user.username, f"[{current.value} → {target.value}] {note}", now)
    audit.append(
        conn,
        actor=user.username,
        action="complaint_status",
        entity="complaint",
        entity_key=str(complaint_id),
        old_value={"status": current.value},
        new_value={"status": target.value, "satisfaction": values.get("satisfaction")},
        reason=note,
        now=now,
    )


def assign(
    conn: Connection, complaint_id: int, owner: str, *, user: User, reason: str, now: datetime
) -> None:
    row = _row(conn, complaint_id)
    conn.execute(
        update(qa_complaints).where(qa_complaints.c.id == complaint_id).values(owner=owner)
    )
    audit.append(
        conn,
        actor=user.username,
        action="complaint_owner",
        entity="complaint",
        entity_key=str(complaint_id),
        old_value={"owner": row.owner},
        new_value={"owner": owner},
        reason=reason,
        now=now,
    )


def _note(
    conn: Connection,
    complaint_id: int,
    author: str,
    text: str,
    now: datetime,
    attachment: tuple[str, str, bytes] | None = None,
) -> int:
    filename, content_type, content = attachment if attachment else (None, None, None)
    return int(
        conn.execute(
            qa_complaint_notes.insert().returning(qa_complaint_notes.c.id),
            {
                "complaint_id": complaint_id,
                "at": now,
                "author": author,
                "text": text,
                "filename": filename,
                "content_type": content_type,
                "content": content,
            },
        ).scalar_one()
    )


def add_note(
    conn: Connection,
    complaint_id: int,
    text: str,
    *,
    user: User,
    now: datetime,
    attachment: tuple[str, str, bytes] | None = None,
) -> int:
    _row(conn, complaint_id)
    if attachment is not None and len(attachment[2]) > MAX_ATTACHMENT_BYTES:
        raise ValueError(
            f"file: expected at most {MAX_ATTACHMENT_BYTES} bytes, got {len(attachment[2])}"
        )
    note_id = _note(conn, complaint_id, user.username, text, now, attachment)
    audit.append(
        conn,
        actor=user.username,
        action="complaint_attachment" if attachment else "complaint_note",
        entity="complaint",
        entity_key=str(complaint_id),
        old_value=None,
        new_value={"note": note_id, "file": attachment[0] if attachment else None},
        reason=text,
        now=now,
    )
    return note_id


def attachment(conn: Connection, complaint_id: int, note_id: int) -> tuple[str, str, bytes]:
    row = conn.execute(
        select(
            qa_complaint_notes.c.filename,
            qa_complaint_notes.c.content_type,
            qa_complaint_notes.c.content,
        ).where(
            qa_complaint_notes.c.id == note_id,
            qa_complaint_notes.c.complaint_id == complaint_id,
            qa_complaint_notes.c.content.is_not(None),
        )
    ).first()
    if row is None:
        raise NotFound(f"attachment: note {note_id} of complaint {complaint_id} has no file")
    return row.filename, row.content_type, bytes(row.content)


def get_complaint(
    conn: Connection, complaint_id: int, policy: SlaPolicy, now: datetime
) -> Complaint:
    return _complaint(conn, _row(conn, complaint_id), policy, now, with_notes=True)


def list_complaints(
    conn: Connection,
    policy: SlaPolicy,
    now: datetime,
    *,
    status: ComplaintStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Complaint]:
    query = select(qa_complaints).order_by(
        qa_complaints.c.received_at.desc(), qa_complaints.c.id.desc()
    )
    if status is not None:
        query = query.where(qa_complaints.c.status == status.value)
    rows = conn.execute(query.limit(limit).offset(offset)).all()
    return [_complaint(conn, row, policy, now, with_notes=False) for row in rows]


def _complaint(
    conn: Connection, row: Any, policy: SlaPolicy, now: datetime, *, with_notes: bool
) -> Complaint:
    lot = None
    if row.batch_id is not None:
        batch = conn.execute(
            select(batches.c.gtin, batches.c.lot).where(batches.c.id == row.batch_id)
        ).first()
        if batch is not None:
            lot = batch.lot
    notes = []
    if with_notes:
        notes = [
            Note(
                id=n.id,
                at=n.at,
                author=n.author,
                text=n.text,
                filename=n.filename,
                content_type=n.content_type,
                size=n.size,
            )
            for n in conn.execute(
                select(
                    qa_complaint_notes.c.id,
                    qa_complaint_notes.c.at,
                    qa_complaint_notes.c.author,
                    qa_complaint_notes.c.text,
                    qa_complaint_notes.c.filename,
                    qa_complaint_notes.c.content_type,
                    func.length(qa_complaint_notes.c.content).label("size"),
                )
                .where(qa_complaint_notes.c.complaint_id == row.id)
                .order_by(qa_complaint_notes.c.id)
            )
        ]
    return Complaint(
        id=row.id,
        channel=row.channel,
        received_at=row.received_at,
        reporter=row.reporter,
        contact=row.contact,
        description=row.description,
        category=row.category,
        code=row.code,
        gtin=row.gtin,
        serial=row.serial,
        lot=lot,
        shipment_id=row.shipment_id,
        status=row.status,
        owner=row.owner,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        satisfaction=row.satisfaction,
        external_ref=row.external_ref,
        response_sla=response_clock(policy, row.received_at, row.acknowledged_at, now),
        resolution_sla=resolution_clock(policy, row.received_at, row.resolved_at, now),
        notes=notes,
    )


# -- imports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    imported: int
    errors: list[str]
    skipped: int = 0  # rows whose external_ref is on record already


COMPLAINT_COLUMNS = (
    "channel",
    "received_at",
    "reporter",
    "contact",
    "description",
    "code",
    "external_ref",
)


def import_complaints(conn: Connection, text: str, *, actor: str, now: datetime) -> ImportResult:
    """CSV with a header naming at least channel, reporter, description (others optional)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"channel", "reporter", "description"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(
            f"header: expected columns {', '.join(sorted(missing))}, got {reader.fieldnames!r}"
        )
    imported, skipped, errors = 0, 0, []
    for number, record in enumerate(reader, start=2):
        try:
            channel = Channel(record["channel"].strip().lower())
        except ValueError:
            errors.append(
                f"line {number}: channel: expected one of hotline, online, social, "
                f"distributor, got {record['channel']!r}"
            )
            continue
        received_at = None
        if record.get("received_at"):
            try:
                received_at = datetime.fromisoformat(record["received_at"])
            except ValueError:
                errors.append(
                    f"line {number}: received_at: expected ISO 8601, got {record['received_at']!r}"
                )
                continue
            if received_at.tzinfo is None:
                errors.append(
                    f"line {number}: received_at: expected a time zone, "
                    f"got {record['received_at']!r}"
                )
                continue
        ref = record.get("external_ref") or None
        if ref is not None and _known_ref(conn, ref):
            skipped += 1
            continue
        if not record["reporter"] or not record["description"]:
            errors.append(f"line {number}: reporter and description: expected text, got empty")
            continue
        receive(
            conn,
            Intake(
                channel=channel,
                reporter=record["reporter"][:256],
                description=record["description"],
                contact=(record.get("contact") or None),
                code=(record.get("code") or None),
                external_ref=ref,
                received_at=received_at,
            ),
            actor=actor,
            now=now,
        )
        imported += 1
    return ImportResult(imported, errors, skipped)


def _known_ref(conn: Connection, ref: str) -> bool:
    query = select(qa_complaints.c.id).where(qa_complaints.c.external_ref == ref)
    return conn.execute(query).first() is not None


def import_survey(conn: Connection, text: str, *, user: User, now: datetime) -> ImportResult:
    """CSV ``complaint_id,rating`` (rating 1..5, 4 and 5 count as satisfied)."""
    reader = csv.DictReader(io.StringIO(text))
    if not {"complaint_id", "rating"} <= set(reader.fieldnames or ()):
        raise ValueError(
            f"header: expected columns complaint_id, rating, got {reader.fieldnames!r}"
        )
    imported, errors = 0, []
    for number, record in enumerate(reader, start=2):
        try:
            complaint_id, rating = int(record["complaint_id"]), int(record["rating"])
        except ValueError:
            errors.append(
                f"line {number}: complaint_id, rating: expected integers, "
                f"got {record['complaint_id']!r}, {record['rating']!r}"
            )
            continue
        if not 1 <= rating <= 5:
            errors.append(f"line {number}: rating: expected 1 to 5, got {rating}")
            continue
        old = conn.execute(
            select(qa_complaints.c.satisfaction).where(qa_complaints.c.id == complaint_id)
        ).first()
        if old is None:
            errors.append(f"line {number}: complaint_id: {complaint_id} unknown")
            continue
        conn.execute(
            update(qa_complaints)
            .where(qa_complaints.c.id == complaint_id)
            .values(satisfaction=rating)
        )
        audit.append(
            conn,
            actor=user.username,
            action="complaint_survey",
            entity="complaint",
            entity_key=str(complaint_id),
            old_value={"satisfaction": old.satisfaction},
            new_value={"satisfaction": rating},
            reason="satisfaction survey import",
            now=now,
        )
        imported += 1
    return ImportResult(imported, errors)


# -- dashboard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRate:
    gtin: str
    lot: str
    complaints: int
    units: int
    per_10k_units: float
    flagged: bool


@dataclass(frozen=True)
class Dashboard:
    total: int
    open: int
    response_attainment: float | None  # share of due/answered complaints answered in time
    resolution_attainment: float | None
    at_risk: list[int]  # complaint ids with a clock at risk
    breached: list[int]  # open complaint ids with a breached clock
    open_by_age: dict[str, int]
    satisfaction: float | None  # share of ratings 4 or 5
    satisfaction_target: float
    satisfaction_met: bool | None
    by_product: dict[str, int]
    by_batch: list[BatchRate]
    by_category: dict[str, int]


def dashboard(conn: Connection, settings: QaSettings, now: datetime) -> Dashboard:
    policy = settings.policy()
    rows = conn.execute(select(qa_complaints)).all()
    response_due = response_met = resolution_due = resolution_met = 0
    at_risk, breached = [], []
    ages = {"under 24 h": 0, "24 to 48 h": 0, "over 48 h": 0}
    open_count = 0
    ratings = []
    by_category: dict[str, int] = {}
    for row in rows:
        response = response_clock(policy, row.received_at, row.acknowledged_at, now)
        resolution = resolution_clock(policy, row.received_at, row.resolved_at, now)
        for clock, kind in ((response, "response"), (resolution, "resolution")):
            if clock.state.value in ("met", "breached"):
                if kind == "response":
                    response_due += 1
                    response_met += clock.state.value == "met"
                else:
                    resolution_due += 1
                    resolution_met += clock.state.value == "met"
        states = {response.state.value, resolution.state.value}
        is_open = row.status not in ("resolved", "closed")
        if is_open:
            open_count += 1
            age = (now - row.received_at).total_seconds() / 3600
            ages["under 24 h" if age < 24 else "24 to 48 h" if age < 48 else "over 48 h"] += 1
            if "breached" in states and (row.acknowledged_at is None or row.resolved_at is None):
                breached.append(row.id)
            elif "at_risk" in states:
                at_risk.append(row.id)
        if row.satisfaction is not None:
            ratings.append(row.satisfaction)
        key = row.category or "uncategorised"
        by_category[key] = by_category.get(key, 0) + 1
    satisfaction = None if not ratings else sum(1 for r in ratings if r >= 4) / len(ratings)
    return Dashboard(
        total=len(rows),
        open=open_count,
        response_attainment=None if not response_due else response_met / response_due,
        resolution_attainment=None if not resolution_due else resolution_met / resolution_due,
        at_risk=sorted(at_risk),
        breached=sorted(breached),
        open_by_age=ages,
        satisfaction=satisfaction,
        satisfaction_target=settings.satisfaction_target,
        satisfaction_met=None
        if satisfaction is None
        else satisfaction >= settings.satisfaction_target,
        by_product=_by_product(conn),
        by_batch=batch_rates(conn, settings),
        by_category=by_category,
    )


def _by_product(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(func.coalesce(qa_complaints.c.gtin, batches.c.gtin), func.count())
        .select_from(qa_complaints.outerjoin(batches, batches.c.id == qa_complaints.c.batch_id))
        .group_by(func.coalesce(qa_complaints.c.gtin, batches.c.gtin))
    )
    return {(gtin or "unidentified"): int(count) for gtin, count in rows}


def batch_rates(conn: Connection, settings: QaSettings) -> list[BatchRate]:
    """Complaints per 10,000 units for every batch of a product that has complaints; a batch
    is flagged when it has at least ``batch_flag_min_complaints`` and its rate exceeds
    ``batch_flag_factor`` times the median rate of the product's batches."""
    complaint_counts: dict[int, int] = dict(
        conn.execute(
            select(qa_complaints.c.batch_id, func.count())
            .where(qa_complaints.c.batch_id.is_not(None))
            .group_by(qa_complaints.c.batch_id)
        ).all()
    )
    if not complaint_counts:
        return []
    gtins = list(
        conn.execute(
            select(batches.c.gtin).where(batches.c.id.in_(list(complaint_counts))).distinct()
        ).scalars()
    )
    unit_counts = conn.execute(
        select(batches.c.id, batches.c.gtin, batches.c.lot, func.count(units.c.id))
        .select_from(batches.outerjoin(units, units.c.batch_id == batches.c.id))
        .where(batches.c.gtin.in_(gtins))
        .group_by(batches.c.id, batches.c.gtin, batches.c.lot)
    ).all()
    rates: dict[str, list[float]] = {}
    entries = []
    for batch_id, gtin, lot, unit_count in unit_counts:
        complaints = int(complaint_counts.get(batch_id, 0))
        rate = 10_000 * complaints / unit_count if unit_count else float(complaints)
        rates.setdefault(gtin, []).append(rate)
        entries.append((gtin, lot, complaints, int(unit_count), rate))
    out = []
    for gtin, lot, complaints, unit_count, rate in entries:
        if complaints == 0:
            continue
        median = statistics.median(rates[gtin])
        flagged = complaints >= settings.batch_flag_min_complaints and (
            rate > settings.batch_flag_factor * median
        )
        out.append(BatchRate(gtin, lot, complaints, unit_count, round(rate, 3), flagged))
    return sorted(out, key=lambda item: (-item.per_10k_units, item.gtin, item.lot))
