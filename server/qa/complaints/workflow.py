"""The complaint workflow: status changes (SLA clocks stop on acknowledge and resolve),
assignment, notes and attachments, each audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from server import audit
from server.auth import User
from server.errors import NotFound
from server.qa.complaints.model import MAX_ATTACHMENT_BYTES, NEXT, ComplaintStatus
from server.qa.errors import TransitionRefused
from server.qa.tables import qa_complaint_notes, qa_complaints


def complaint_row(conn: Connection, complaint_id: int) -> Any:
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
    row = complaint_row(conn, complaint_id)
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
    row = complaint_row(conn, complaint_id)
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
    complaint_row(conn, complaint_id)
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
