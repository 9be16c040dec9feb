"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200): who, printed name, when,
what it means, linked to the record it signs.

* The signer enters the password again; it is checked against the stored argon2 hash.
* The printed name is the user record's full name (set by an admin), never free text.
* The meaning is one of :class:`Meaning`, and must be one the action allows.
* The signature row and the audit-trail row reference each other (the audit row's new value
  carries the signature id, name, meaning and time; the signature keeps the audit row's
  hash). :func:`cross_check` finds a signature or batch status edited behind the
  application's back: what the tables say must be what the audit trail says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select

from server import audit
from server.audit import AuditProblem
from server.auth import User, password_matches
from server.qa.errors import SignatureRejected
from server.qa.tables import qa_batch_status, qa_signatures
from server.store.schema import audit_trail, batches, users


class Meaning(StrEnum):
    """The fixed list of what a signature can mean."""

    RELEASE = "Release for sale"
    REJECT = "Reject batch"
    HOLD = "Place batch on hold"
    CORRECTION = "Approve change to a released batch record"


@dataclass(frozen=True)
class Signature:
    id: int
    username: str
    full_name: str
    signed_at: datetime
    meaning: str
    entity: str
    entity_key: str
    audit_hash: str

    @classmethod
    def of_row(cls, row: Any) -> Signature:
        return cls(
            id=row.id,
            username=row.username,
            full_name=row.full_name,
            signed_at=row.signed_at,
            meaning=row.meaning,
            entity=row.entity,
            entity_key=row.entity_key,
            audit_hash=row.audit_hash,
        )


def check_password(conn: Connection, user: User, password: str) -> None:
    """Raise :class:`SignatureRejected` unless ``password`` is the (active) user's."""
    stored = conn.execute(
        select(users.c.password_hash).where(users.c.id == user.id, users.c.active == 1)
    ).scalar()
    if stored is None or not password_matches(stored, password):
        raise SignatureRejected(f"signature: password of user {user.username!r} does not match")


def printed_name(conn: Connection, user: User) -> str:
    """The signer's name as the user record holds it now (full name, else user name)."""
    name = conn.execute(select(users.c.full_name).where(users.c.id == user.id)).scalar()
    return str(name) if name else user.username


def sign(
    conn: Connection,
    user: User,
    password: str,
    *,
    meaning: Meaning,
    entity: str,
    entity_key: str,
    action: str,
    old_value: Any,
    new_value: dict[str, Any],
    reason: str,
    now: datetime,
) -> Signature:
    """Check the password, store the signature and append the signed change to the audit
    trail; raises :class:`SignatureRejected` when the password is wrong."""
    check_password(conn, user, password)
    name = printed_name(conn, user)
    signature_id = conn.execute(
        qa_signatures.insert().returning(qa_signatures.c.id),
        {
            "user_id": user.id,
            "username": user.username,
            "full_name": name,
            "signed_at": now,
            "meaning": meaning.value,
            "entity": entity,
            "entity_key": entity_key,
            "audit_hash": "",
        },
    ).scalar_one()
    digest = audit.append(
        conn,
        actor=user.username,
        action=action,
        entity=entity,
        entity_key=entity_key,
        old_value=old_value,
        new_value={
            **new_value,
            "signature": signature_block(int(signature_id), name, meaning.value, now),
        },
        reason=reason,
        now=now,
    )
    conn.execute(
        qa_signatures.update().where(qa_signatures.c.id == signature_id).values(audit_hash=digest)
    )
    return Signature(
        int(signature_id), user.username, name, now, meaning.value, entity, entity_key, digest
    )


def signature_block(
    signature_id: int, name: str, meaning: str, signed_at: datetime
) -> dict[str, Any]:
    """What the audit row records of a signature (and :func:`cross_check` compares)."""
    return {
        "id": signature_id,
        "name": name,
        "meaning": meaning,
        "signed_at": signed_at.isoformat(),
    }


# -- cross-check against the audit trail -------------------------------------------------

STATUS_ACTIONS = {
    "batch_released": "released",
    "batch_rejected": "rejected",
    "batch_quarantine": "quarantine",
}


def cross_check(conn: Connection) -> list[AuditProblem]:
    """Signatures and batch status as the tables hold them, compared with the audit rows
    that recorded them; one :class:`AuditProblem` (kind ``record_mismatch``) per difference."""
    problems: list[AuditProblem] = []
    by_hash: dict[str, Any] = {}
    signed_rows: dict[int, Any] = {}
    status_rows: dict[str, Any] = {}  # batch key -> newest status change row
    query = select(audit_trail).where(
        audit_trail.c.action.in_(list(STATUS_ACTIONS))
        | audit_trail.c.new_value.like('%"signature"%')
    )
    row: Any
    for row in conn.execute(query.order_by(audit_trail.c.id)):
        by_hash[row.hash] = row
        value = _json(row.new_value)
        signature = value.get("signature") if isinstance(value, dict) else None
        if isinstance(signature, dict) and isinstance(signature.get("id"), int):
            signed_rows[signature["id"]] = row
        if row.action in STATUS_ACTIONS and row.entity == "batch":
            status_rows[row.entity_key] = row

    for sig in conn.execute(select(qa_signatures).order_by(qa_signatures.c.id)):
        row = by_hash.get(sig.audit_hash) or signed_rows.get(int(sig.id))
        where = f"signature {sig.id} ({sig.entity} {sig.entity_key})"
        if row is None:
            problems.append(
                AuditProblem("record_mismatch", None, f"{where}: no audit row records it")
            )
            continue
        recorded = _json(row.new_value).get("signature") if row.new_value else None
        expected = signature_block(int(sig.id), sig.full_name, sig.meaning, sig.signed_at)
        differences = []
        if row.hash != sig.audit_hash:
            differences.append("its audit hash")
        if row.actor != sig.username:
            differences.append(f"signer {sig.username!r} (audit trail: {row.actor!r})")
        if (row.entity, row.entity_key) != (sig.entity, sig.entity_key):
            differences.append("the record it signs")
        if not isinstance(recorded, dict):
            differences.append("the signature block")
        else:
            for name in ("id", "name", "meaning", "signed_at"):
                if recorded.get(name) != expected[name]:
                    differences.append(
                        f"{name} {expected[name]!r} (audit trail: {recorded.get(name)!r})"
                    )
        if differences:
            problems.append(
                AuditProblem(
                    "record_mismatch",
                    None,
                    f"{where} differs from audit row {row.id}: " + "; ".join(differences),
                )
            )

    keys = {
        int(row.id): f"(01){row.gtin}(10){row.lot}"
        for row in conn.execute(select(batches.c.id, batches.c.gtin, batches.c.lot))
    }
    table = {
        keys.get(int(row.batch_id), f"batch id {row.batch_id}"): row
        for row in conn.execute(select(qa_batch_status))
    }
    for key in sorted(set(table) | set(status_rows)):
        held = table.get(key)
        recorded_row = status_rows.get(key)
        status = held.status if held is not None else "quarantine"
        recorded_status = (
            STATUS_ACTIONS[recorded_row.action] if recorded_row is not None else "quarantine"
        )
        if status != recorded_status:
            problems.append(
                AuditProblem(
                    "record_mismatch",
                    None,
                    f"batch {key}: status is {status!r}, the audit trail says {recorded_status!r}",
                )
            )
            continue
        if held is not None and recorded_row is not None:
            signature = _json(recorded_row.new_value).get("signature") or {}
            if held.signature_id != signature.get("id"):
                problems.append(
                    AuditProblem(
                        "record_mismatch",
                        None,
                        f"batch {key}: status signed by signature {held.signature_id}, the "
                        f"audit trail says {signature.get('id')}",
                    )
                )
    return problems


def _json(text_value: str | None) -> Any:
    if text_value is None:
        return {}
    try:
        value = json.loads(text_value)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
