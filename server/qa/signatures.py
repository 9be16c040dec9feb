"""Electronic signatures (21 CFR Part 11 style): who, printed name, when, what it means.

A signature needs the signer's password again, checked against the stored argon2 hash;
the signature row and the audit-trail row reference each other (the audit row's new value
carries the signature id, the signature keeps the audit row's hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from server import audit
from server.auth import User, password_matches
from server.qa.errors import SignatureRejected
from server.qa.tables import qa_signatures
from server.store.schema import users


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


def sign(
    conn: Connection,
    user: User,
    password: str,
    *,
    full_name: str | None,
    meaning: str,
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
    stored = conn.execute(
        select(users.c.password_hash).where(users.c.id == user.id, users.c.active == 1)
    ).scalar()
    if stored is None or not password_matches(stored, password):
        raise SignatureRejected(f"signature: password of user {user.username!r} does not match")
    name = full_name or user.username
    signature_id = conn.execute(
        qa_signatures.insert().returning(qa_signatures.c.id),
        {
            "user_id": user.id,
            "username": user.username,
            "full_name": name,
            "signed_at": now,
            "meaning": meaning,
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
            "signature": {
                "id": int(signature_id),
                "name": name,
                "meaning": meaning,
                "signed_at": now.isoformat(),
            },
        },
        reason=reason,
        now=now,
    )
    conn.execute(
        qa_signatures.update().where(qa_signatures.c.id == signature_id).values(audit_hash=digest)
    )
    return Signature(
        int(signature_id), user.username, name, now, meaning, entity, entity_key, digest
    )
