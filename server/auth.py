"""Users, roles, password hashes (argon2), bearer tokens, the password policy and the
lockout of failed logins and e-signatures.

Tokens are random (256 bits) and stored only as their SHA-256, with an expiry; a stolen
database copy yields no usable token. A token ends at its expiry, at logout, when an admin
revokes it, or when its user is disabled or locked. Roles:

* ``device``: capture events (``POST /epcis/capture``) — edge agents and line PCs; a device
  account is bound to one registered line (``line``: site and line) and may capture only
  events whose read point and business location are that line's (:mod:`server.lines`); an
  unbound device account may capture nothing;
* ``operator``: read traces, batches, containers; ship (``POST /shipments``); record a
  batch's production record and raw-material lots;
* ``qa``: everything an operator reads, plus recall, EPCIS queries, audit trail, alerts,
  inspections, and the signed batch decisions (release, reject, hold), which only QA makes;
* ``admin``: accounts (create, disable, enable, passwords, roles, token revocation) and
  everything an operator or QA reads; no GMP decision (segregation of duties).

Failed logins and failed e-signatures are counted per user name and per client address
(:class:`LockoutPolicy`): after ``max_failures`` for a user name it is locked for
``lockout_seconds`` (0: until an admin enables it again) and its tokens are revoked; after
``address_max_failures`` from one address within the window, that address is refused until
the window has passed. Unknown user names are counted and locked the same way, so the
answers do not tell which names exist. The callers audit every failure.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, select, update

from server.store.schema import auth_throttle, lines, tokens, users


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
    full_name: str | None = None
    site: str | None = None  # the registered line a device account is bound to
    line: str | None = None

    @property
    def bound_line(self) -> tuple[str, str] | None:
        """The (site, line) the account is bound to, None when it is not."""
        return None if self.site is None or self.line is None else (self.site, self.line)

    @property
    def printed_name(self) -> str:
        """The name a signature carries: the user record's full name, else the user name."""
        return self.full_name or self.username


_hasher = PasswordHasher()
USERNAME_MAX = 64
FULL_NAME_MAX = 128
PASSWORD_MAX = 1024
#: "Locked until an admin enables the user" is stored as this far-away time.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "common_passwords.txt"


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


def check_full_name(full_name: str | None) -> str | None:
    if full_name is None:
        return None
    name = " ".join(full_name.split())
    if not 1 <= len(name) <= FULL_NAME_MAX or not name.isprintable():
        raise ValueError(
            f"full_name: expected 1 to {FULL_NAME_MAX} printable characters, got {full_name!r}"
        )
    return name


def parse_line(value: str) -> tuple[str, str]:
    """``SITE/LINE`` as (site, line); ValueError naming ``line`` when it is not that."""
    from epcis import TopicError, topics

    site, slash, line = value.partition("/") if isinstance(value, str) else ("", "", "")
    try:
        if not slash:
            raise TopicError(f"expected SITE/LINE, got {str(value)[:80]!r}")
        topics.validate_id(site, "site")
        topics.validate_id(line, "line")
    except TopicError as exc:
        raise ValueError(f"line: {exc}") from None
    return site, line


def _registered_line(conn: Connection, value: str) -> tuple[str, str]:
    site, line = parse_line(value)
    found = conn.execute(
        select(lines.c.site).where(lines.c.site == site, lines.c.line == line)
    ).first()
    if found is None:
        raise ValueError(
            f"line: no line {site}/{line} is registered "
            f"(serialtrace server lines add {site} {line} --location SGLN)"
        )
    return site, line


# -- password policy ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case), one per line."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _core(password: str) -> str:
    """The password without case, and without the digits and symbols people add to a
    common word to pass a policy ("Password123!" -> "password")."""
    return password.lower().strip("0123456789!@#$%^&*()-_=+.,;:?/'\"[]{}<>|\\~` ")


def check_password(password: str, username: str, *, min_length: int = 12) -> None:
    """Raise ValueError naming the rule a new password breaks: length, the user name, a
    common password (also once digits and symbols around it are taken off)."""
    if len(password) < min_length:
        raise ValueError(
            f"password: expected at least {min_length} characters, got {len(password)}"
        )
    if len(password) > PASSWORD_MAX:
        raise ValueError(
            f"password: expected at most {PASSWORD_MAX} characters, got {len(password)}"
        )
    lowered = password.lower()
    name = username.lower()
    if lowered == name or (len(name) >= 3 and name in lowered) or _core(password) == name:
        raise ValueError("password: must not be or contain the user name")
    common = common_passwords()
    if lowered in common or _core(password) in common or len(set(lowered)) < 4:
        raise ValueError("password: too common or too easy to guess; choose another")


# -- users ----------------------------------------------------------------------------------


def add_user(
    conn: Connection,
    username: str,
    password: str,
    role: Role,
    *,
    now: datetime,
    full_name: str | None = None,
    min_length: int = 12,
    line: str | None = None,
) -> User:
    """Create a user (a device account bound to ``line``, ``SITE/LINE``, if given); raises
    ValueError naming the field for a bad name, password or line."""
    check_username(username)
    name = check_full_name(full_name)
    check_password(password, username, min_length=min_length)
    bound = _line_for(conn, role, line)
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
            "full_name": name,
            "password_changed_at": now,
            "line_site": bound[0] if bound else None,
            "line_name": bound[1] if bound else None,
        },
    ).scalar_one()
    return User(int(user_id), username, role, name, *(bound or (None, None)))


def _line_for(conn: Connection, role: Role, line: str | None) -> tuple[str, str] | None:
    if line is None:
        return None
    if role is not Role.DEVICE:
        raise ValueError(f"line: only device accounts are bound to a line, not {role.value}")
    return _registered_line(conn, line)


@dataclass(frozen=True)
class Account:
    """A user as the admin sees it."""

    id: int
    username: str
    role: Role
    full_name: str | None
    active: bool
    created_at: datetime
    password_changed_at: datetime | None
    locked_until: datetime | None
    failures: int
    active_tokens: int
    last_login: datetime | None
    line: str | None = None  # SITE/LINE of a device account, None when unbound


def find_user(conn: Connection, username: str) -> Account | None:
    for account in list_users(conn, username=username):
        return account
    return None


def list_users(
    conn: Connection, *, username: str | None = None, now: datetime | None = None
) -> list[Account]:
    query = select(users).order_by(users.c.username)
    if username is not None:
        query = query.where(users.c.username == username)
    rows = conn.execute(query).all()
    throttles = {
        row.key: row
        for row in conn.execute(select(auth_throttle).where(auth_throttle.c.scope == "user"))
    }
    token_query = select(tokens.c.user_id, func.count(), func.max(tokens.c.created_at)).group_by(
        tokens.c.user_id
    )
    last_login = {int(r[0]): r[2] for r in conn.execute(token_query)}
    live_query = select(tokens.c.user_id, func.count()).where(tokens.c.revoked_at.is_(None))
    if now is not None:
        live_query = live_query.where(tokens.c.expires_at > now)
    live = {int(r[0]): int(r[1]) for r in conn.execute(live_query.group_by(tokens.c.user_id))}
    accounts = []
    for row in rows:
        throttle = throttles.get(row.username)
        locked = throttle.locked_until if throttle is not None else None
        if locked is not None and now is not None and locked <= now:
            locked = None
        accounts.append(
            Account(
                id=int(row.id),
                username=row.username,
                role=Role(row.role),
                full_name=row.full_name,
                active=bool(row.active),
                created_at=row.created_at,
                password_changed_at=row.password_changed_at,
                locked_until=locked,
                failures=0 if throttle is None else int(throttle.failures),
                active_tokens=live.get(int(row.id), 0),
                last_login=last_login.get(int(row.id)),
                line=_line_text(row.line_site, row.line_name),
            )
        )
    return accounts


def _line_text(site: str | None, line: str | None) -> str | None:
    return None if site is None or line is None else f"{site}/{line}"


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(active=1 if active else 0))


def set_role(conn: Connection, user_id: int, role: Role) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(role=role.value))


def set_full_name(conn: Connection, user_id: int, full_name: str | None) -> None:
    conn.execute(
        update(users).where(users.c.id == user_id).values(full_name=check_full_name(full_name))
    )


def set_password(
    conn: Connection,
    user_id: int,
    username: str,
    password: str,
    *,
    now: datetime,
    min_length: int = 12,
) -> None:
    check_password(password, username, min_length=min_length)
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=hash_password(password), password_changed_at=now)
    )


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    row = conn.execute(
        select(users.c.id, users.c.password_hash, users.c.role, users.c.full_name).where(
            users.c.username == username, users.c.active == 1
        )
    ).first()
    if row is None:
        _hasher.hash(password)  # same work as a real check: no user enumeration by timing
        return None
    if not password_matches(row.password_hash, password):
        return None
    return User(int(row.id), username, Role(row.role), row.full_name)


def user_by_id(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(
        select(users.c.username, users.c.role, users.c.full_name, users.c.active).where(
            users.c.id == user_id
        )
    ).first()
    if row is None or not row.active:
        return None
    return User(user_id, row.username, Role(row.role), row.full_name)


# -- tokens ---------------------------------------------------------------------------------


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
        select(
            users.c.id,
            users.c.username,
            users.c.role,
            users.c.full_name,
            users.c.line_site,
            users.c.line_name,
        )
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
        .where(
            tokens.c.token_hash == _digest(token),
            tokens.c.expires_at > now,
            tokens.c.revoked_at.is_(None),
            users.c.active == 1,
        )
    ).first()
    if row is None:
        return None
    return User(
        int(row.id), row.username, Role(row.role), row.full_name, row.line_site, row.line_name
    )


def token_refusal(conn: Connection, token: str) -> str | None:
    """Why a known token no longer works: revoked, or its user disabled (None: unknown or
    expired, which are not told apart)."""
    row = conn.execute(
        select(tokens.c.revoked_at, users.c.active)
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
        .where(tokens.c.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    if not row.active:
        return "user disabled"
    if row.revoked_at is not None:
        return "token revoked (signed out, or by an administrator)"
    return None


def revoke_token(conn: Connection, token: str, *, now: datetime) -> bool:
    """Revoke one token (logout); False if it was unknown or revoked already."""
    result = conn.execute(
        update(tokens)
        .where(tokens.c.token_hash == _digest(token), tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def revoke_user_tokens(
    conn: Connection, user_id: int, *, now: datetime, keep: str | None = None
) -> int:
    """Revoke every live token of a user (but ``keep``); returns how many."""
    query = update(tokens).where(
        tokens.c.user_id == user_id,
        tokens.c.revoked_at.is_(None),
        tokens.c.expires_at > now,
    )
    if keep is not None:
        query = query.where(tokens.c.token_hash != _digest(keep))
    result = conn.execute(query.values(revoked_at=now))
    return int(result.rowcount or 0)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# -- throttle and lockout -------------------------------------------------------------------


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lockout_seconds: int = 900  # 0: until an admin enables the user again
    window_seconds: int = 900
    address_max_failures: int = 20


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before the password is even checked."""

    message: str
    retry_after: int | None  # seconds; None: until an admin acts


def refusal(
    conn: Connection, username: str, address: str, *, now: datetime, policy: LockoutPolicy
) -> Refusal | None:
    """A refusal when the user name is locked or the address has failed too often."""
    user_row = _throttle(conn, "user", username)
    if user_row is not None and user_row.locked_until is not None and user_row.locked_until > now:
        if user_row.locked_until.year >= 9999:
            return Refusal(
                f"user {username!r} is locked after {user_row.failures} failed attempts; "
                "an administrator must enable it again",
                None,
            )
        wait = _seconds(user_row.locked_until - now)
        return Refusal(
            f"user {username!r} is locked after {user_row.failures} failed attempts; "
            f"try again in {wait} s or ask an administrator",
            wait,
        )
    address_row = _throttle(conn, "address", address)
    if (
        address_row is not None
        and address_row.failures >= policy.address_max_failures
        and address_row.first_at + timedelta(seconds=policy.window_seconds) > now
    ):
        wait = _seconds(address_row.first_at + timedelta(seconds=policy.window_seconds) - now)
        return Refusal(f"too many failed attempts from {address}; try again in {wait} s", wait)
    return None


@dataclass(frozen=True)
class Failure:
    """A failure as counted: the user name's count, and whether it locked the name now."""

    failures: int
    locked: bool
    locked_until: datetime | None


def record_failure(
    conn: Connection, username: str, address: str, *, now: datetime, policy: LockoutPolicy
) -> Failure:
    """Count a failed attempt for the user name and the address; lock the name when it
    reaches the policy's limit (and revoke the tokens of its user, if there is one)."""
    _count(conn, "address", address, now, policy)
    count = _count(conn, "user", username, now, policy)
    if count < policy.max_failures:
        return Failure(count, False, None)
    row = _throttle(conn, "user", username)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return Failure(count, False, row.locked_until)
    until = now + timedelta(seconds=policy.lockout_seconds) if policy.lockout_seconds else FOREVER
    conn.execute(
        update(auth_throttle)
        .where(auth_throttle.c.scope == "user", auth_throttle.c.key == username[:256])
        .values(locked_until=until)
    )
    user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is not None:
        revoke_user_tokens(conn, int(user_id), now=now)
    return Failure(count, True, until)


def clear_failures(conn: Connection, username: str) -> None:
    """Forget a user name's failures and lock (a successful login, an admin's enable)."""
    conn.execute(
        auth_throttle.delete().where(
            auth_throttle.c.scope == "user", auth_throttle.c.key == username[:256]
        )
    )


def _throttle(conn: Connection, scope: str, key: str) -> Any:
    return conn.execute(
        select(auth_throttle).where(
            auth_throttle.c.scope == scope, auth_throttle.c.key == key[:256]
        )
    ).first()


def _count(conn: Connection, scope: str, key: str, now: datetime, policy: LockoutPolicy) -> int:
    key = key[:256]
    row = _throttle(conn, scope, key)
    window = timedelta(seconds=policy.window_seconds)
    if row is None:
        conn.execute(
            auth_throttle.insert(),
            {
                "scope": scope,
                "key": key,
                "failures": 1,
                "first_at": now,
                "last_at": now,
                "locked_until": None,
            },
        )
        return 1
    failures = int(row.failures)
    first_at: datetime = row.first_at
    locked_until: datetime | None = row.locked_until
    expired_lock = locked_until is not None and locked_until <= now
    if (first_at + window <= now and (locked_until is None or expired_lock)) or expired_lock:
        failures, first_at, locked_until = 0, now, None  # an old series is forgotten
    conn.execute(
        update(auth_throttle)
        .where(auth_throttle.c.scope == scope, auth_throttle.c.key == key)
        .values(failures=failures + 1, first_at=first_at, last_at=now, locked_until=locked_until)
    )
    return failures + 1


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


# -- audited account management (the CLI and the API share these) ---------------------------


class AccountError(ValueError):
    """A management action that cannot be done (unknown user, last admin, bad value)."""


def _account(conn: Connection, username: str) -> Account:
    account = find_user(conn, username)
    if account is None:
        raise AccountError(f"username: no user {username!r}")
    return account


def _audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    username: str,
    old: Any,
    new: Any,
    reason: str,
    now: datetime,
) -> None:
    from server import audit

    audit.append(
        conn,
        actor=actor,
        action=action,
        entity="user",
        entity_key=username,
        old_value=old,
        new_value=new,
        reason=reason,
        now=now,
    )


def _check_reason(reason: str) -> str:
    text = reason.strip()
    if len(text) < 3:
        raise AccountError(f"reason: expected at least 3 characters, got {reason!r}")
    return text


def _keep_an_admin(conn: Connection, account: Account, *, losing: bool) -> None:
    if not losing or account.role is not Role.ADMIN or not account.active:
        return
    admins = conn.execute(
        select(func.count())
        .select_from(users)
        .where(users.c.role == Role.ADMIN.value, users.c.active == 1)
    ).scalar_one()
    if int(admins) <= 1:
        raise AccountError(
            f"username: {account.username!r} is the last active admin; add another admin first"
        )


def create_account(
    conn: Connection,
    username: str,
    password: str,
    role: Role,
    *,
    full_name: str | None,
    actor: str,
    reason: str,
    now: datetime,
    min_length: int = 12,
    line: str | None = None,
) -> User:
    reason = _check_reason(reason)
    user = add_user(
        conn,
        username,
        password,
        role,
        now=now,
        full_name=full_name,
        min_length=min_length,
        line=line,
    )
    new: dict[str, Any] = {"role": role.value, "full_name": user.full_name, "active": True}
    if role is Role.DEVICE:
        new["line"] = _line_text(user.site, user.line)
    _audit(
        conn,
        actor=actor,
        action="user_add",
        username=username,
        old=None,
        new=new,
        reason=reason,
        now=now,
    )
    return user


def disable_account(
    conn: Connection, username: str, *, actor: str, reason: str, now: datetime
) -> int:
    """Disable a user and revoke its tokens; returns how many tokens were revoked."""
    reason = _check_reason(reason)
    account = _account(conn, username)
    _keep_an_admin(conn, account, losing=True)
    set_active(conn, account.id, False)
    revoked = revoke_user_tokens(conn, account.id, now=now)
    _audit(
        conn,
        actor=actor,
        action="user_disable",
        username=username,
        old={"active": account.active},
        new={"active": False, "tokens_revoked": revoked},
        reason=reason,
        now=now,
    )
    return revoked


def enable_account(
    conn: Connection, username: str, *, actor: str, reason: str, now: datetime
) -> None:
    """Enable a user again; also ends a lockout."""
    reason = _check_reason(reason)
    account = _account(conn, username)
    set_active(conn, account.id, True)
    clear_failures(conn, username)
    _audit(
        conn,
        actor=actor,
        action="user_enable",
        username=username,
        old={"active": account.active, "locked_until": _iso(account.locked_until)},
        new={"active": True, "locked_until": None},
        reason=reason,
        now=now,
    )


def reset_password(
    conn: Connection,
    username: str,
    password: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    min_length: int = 12,
) -> int:
    """Set a new password (an admin's reset); revokes the user's tokens."""
    reason = _check_reason(reason)
    account = _account(conn, username)
    set_password(conn, account.id, username, password, now=now, min_length=min_length)
    revoked = revoke_user_tokens(conn, account.id, now=now)
    _audit(
        conn,
        actor=actor,
        action="user_password",
        username=username,
        old=None,  # never a password or its hash in the trail
        new={"password_changed_at": now.isoformat(), "tokens_revoked": revoked},
        reason=reason,
        now=now,
    )
    return revoked


def change_role(
    conn: Connection, username: str, role: Role, *, actor: str, reason: str, now: datetime
) -> None:
    reason = _check_reason(reason)
    account = _account(conn, username)
    if account.role is role:
        raise AccountError(f"role: user {username!r} is {role.value} already")
    _keep_an_admin(conn, account, losing=True)
    set_role(conn, account.id, role)
    old: dict[str, Any] = {"role": account.role.value}
    new: dict[str, Any] = {"role": role.value}
    if account.line is not None:  # only a device account is bound to a line
        conn.execute(
            update(users).where(users.c.id == account.id).values(line_site=None, line_name=None)
        )
        old["line"], new["line"] = account.line, None
    revoke_user_tokens(conn, account.id, now=now)  # sign in again with the new role
    _audit(
        conn,
        actor=actor,
        action="user_role",
        username=username,
        old=old,
        new=new,
        reason=reason,
        now=now,
    )


def bind_line(
    conn: Connection,
    username: str,
    line: str | None,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> str | None:
    """Bind a device account to the registered line ``SITE/LINE`` (None: unbind it, so it
    may capture nothing); audited (``user_line``). Returns the line as ``SITE/LINE``."""
    reason = _check_reason(reason)
    account = _account(conn, username)
    if account.role is not Role.DEVICE:
        raise AccountError(
            f"line: only device accounts are bound to a line; {username!r} is {account.role.value}"
        )
    bound = None if line is None else _registered_line(conn, line)
    text = _line_text(*bound) if bound else None
    if text == account.line:
        raise AccountError(f"line: user {username!r} is bound to {text or 'no line'} already")
    conn.execute(
        update(users)
        .where(users.c.id == account.id)
        .values(line_site=bound[0] if bound else None, line_name=bound[1] if bound else None)
    )
    _audit(
        conn,
        actor=actor,
        action="user_line",
        username=username,
        old={"line": account.line},
        new={"line": text},
        reason=reason,
        now=now,
    )
    return text


def change_full_name(
    conn: Connection,
    username: str,
    full_name: str | None,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    reason = _check_reason(reason)
    account = _account(conn, username)
    name = check_full_name(full_name)
    set_full_name(conn, account.id, name)
    _audit(
        conn,
        actor=actor,
        action="user_full_name",
        username=username,
        old={"full_name": account.full_name},
        new={"full_name": name},
        reason=reason,
        now=now,
    )


def revoke_tokens(
    conn: Connection, username: str, *, actor: str, reason: str, now: datetime
) -> int:
    reason = _check_reason(reason)
    account = _account(conn, username)
    revoked = revoke_user_tokens(conn, account.id, now=now)
    _audit(
        conn,
        actor=actor,
        action="tokens_revoked",
        username=username,
        old=None,
        new={"tokens_revoked": revoked},
        reason=reason,
        now=now,
    )
    return revoked


@dataclass(frozen=True)
class AccessReview:
    """The periodic review of users and roles (Annex 11 §12, Part 11 §11.10(d), (g))."""

    generated_at: datetime
    users: list[Account]
    roles: dict[str, int]
    findings: list[str]
    changes: list[dict[str, Any]]  # account changes in the period, from the audit trail


def access_review(
    conn: Connection, *, now: datetime, period_days: int = 90, password_max_age_days: int = 365
) -> AccessReview:
    from server import audit

    accounts = list_users(conn, now=now)
    roles: dict[str, int] = {}
    findings = []
    for account in accounts:
        if account.active:
            roles[account.role.value] = roles.get(account.role.value, 0) + 1
        name = account.username
        if not account.active:
            findings.append(f"{name}: disabled")
            continue
        if account.locked_until is not None:
            findings.append(f"{name}: locked until {account.locked_until.isoformat()}")
        if account.last_login is None:
            findings.append(f"{name} ({account.role.value}): never logged in")
        elif account.last_login < now - timedelta(days=period_days):
            findings.append(
                f"{name} ({account.role.value}): no login in {period_days} days "
                f"(last {account.last_login.date().isoformat()})"
            )
        changed = account.password_changed_at or account.created_at
        if changed < now - timedelta(days=password_max_age_days):
            findings.append(f"{name}: password unchanged since {changed.date().isoformat()}")
        if account.role is Role.DEVICE and account.line is None:
            findings.append(f"{name}: device bound to no line, so it may capture nothing")
        if account.role is not Role.DEVICE and not account.full_name:
            findings.append(f"{name}: no full name, so signatures print the user name")
    since = now - timedelta(days=period_days)
    changes = [
        {
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "user": entry.entity_key,
            "old": entry.old_value,
            "new": entry.new_value,
            "reason": entry.reason,
        }
        for entry in audit.entries(conn, entity="user", limit=100_000)
        if entry.at >= since and entry.action.startswith(("user_", "tokens_"))
    ]
    return AccessReview(now, accounts, roles, findings, changes)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
