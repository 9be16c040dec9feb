"""Users, roles, password hashes (argon2) and bearer tokens.

Tokens are random (256 bits) and stored only as their SHA-256, with an expiry; a stolen
database copy yields no usable token. Roles:

* ``device``: capture events (``POST /epcis/capture``) — edge agents and line PCs;
* ``operator``: read traces, batches, containers; ship (``POST /shipments``);
* ``qa``: everything an operator does, plus recall, EPCIS queries, audit trail, alerts;
* ``admin``: everything.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select

from server.store.schema import tokens, users


class Role(StrEnum):
    DEVICE = "device"
    OPERATOR = "operator"
    QA = "qa"
    ADMIN = "admin"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role


_hasher = PasswordHasher()
USERNAME_MAX = 64


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_username(username: str) -> str:
    if not 1 <= len(username) <= USERNAME_MAX or not username.isprintable() or " " in username:
        raise ValueError(
            f"username: expected 1 to {USERNAME_MAX} printable characters without spaces, "
            f"got {username!r}"
        )
    return username


def add_user(conn: Connection, username: str, password: str, role: Role, *, now: datetime) -> User:
    """Create a user; raises ValueError naming the field for a bad name or short password."""
    check_username(username)
    if len(password) < 8:
        raise ValueError(f"password: expected at least 8 characters, got {len(password)}")
    if conn.execute(select(users.c.id).where(users.c.username == username)).first() is not None:
        raise ValueError(f"username: {username!r} exists already")
    user_id = conn.execute(
        users.insert().returning(users.c.id),
        {
            "username": username,
            "password_hash": hash_password(password),
            "role": role.value,
            "active": 1,
            "created_at": now,
        },
    ).scalar_one()
    return User(int(user_id), username, role)


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    row = conn.execute(
        select(users.c.id, users.c.password_hash, users.c.role).where(
            users.c.username == username, users.c.active == 1
        )
    ).first()
    if row is None:
        _hasher.hash(password)  # same work as a real check: no user enumeration by timing
        return None
    if not password_matches(row.password_hash, password):
        return None
    return User(int(row.id), username, Role(row.role))


def issue_token(conn: Connection, user: User, *, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        tokens.insert(),
        {
            "token_hash": _digest(token),
            "user_id": user.id,
            "created_at": now,
            "expires_at": now + ttl,
        },
    )
    return token


def user_for_token(conn: Connection, token: str, *, now: datetime) -> User | None:
    row = conn.execute(
        select(users.c.id, users.c.username, users.c.role)
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
        .where(
            tokens.c.token_hash == _digest(token), tokens.c.expires_at > now, users.c.active == 1
        )
    ).first()
    return None if row is None else User(int(row.id), row.username, Role(row.role))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
