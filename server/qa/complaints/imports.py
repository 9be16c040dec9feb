"""Complaint imports: complaints from another system (CSV) and satisfaction surveys."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from server import audit
from server.auth import User
from server.qa.complaints.intake import receive
from server.qa.complaints.model import Channel, Intake
from server.qa.tables import qa_complaints


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
