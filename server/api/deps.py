"""Dependencies: services, database connections, the current user and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from server import audit
from server.api import paths as _paths  # noqa: F401  (registers the gs1text path convertor)
from server.api.app_state import services_of
from server.auth import (
    Failure,
    LockoutPolicy,
    Role,
    User,
    record_failure,
    refusal,
    token_refusal,
    user_for_token,
)
from server.errors import StoreError
from server.store import read_transaction, write_transaction
from server.store.schema import alerts

_bearer = HTTPBearer(auto_error=False, description="token from POST /auth/token")


def read_conn(request: Request) -> Iterator[Connection]:
    """A read transaction for the request."""
    try:
        with read_transaction(services_of(request).engine) as conn:
            yield conn
    except OperationalError as exc:
        raise StoreError(f"store unavailable: {exc.orig}") from exc


ReadConn = Annotated[Connection, Depends(read_conn)]


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer token of the request; 401 without one."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authorization: expected 'Bearer <token>', got none",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


def current_user(request: Request, token: Annotated[str, Depends(bearer_token)]) -> User:
    """The user of a live token (not expired, not revoked, user enabled); 401 else."""
    with read_transaction(services_of(request).engine) as conn:
        user = user_for_token(conn, token, now=datetime.now(UTC))
        why = None if user is not None else token_refusal(conn, token)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"authorization: {why or 'token unknown or expired'}",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: the proxy's, unless
    uvicorn is told to trust its forwarded headers)."""
    return request.client.host if request.client is not None else "unknown"


def lockout_policy(request: Request) -> LockoutPolicy:
    settings = services_of(request).settings
    return LockoutPolicy(
        max_failures=settings.lockout_failures,
        lockout_seconds=settings.lockout_seconds,
        window_seconds=settings.failure_window_seconds,
        address_max_failures=settings.address_max_failures,
    )


def require(*roles: Role) -> Callable[..., User]:
    """A dependency that admits only ``roles`` (admin always): 401 without token, 403 else."""
    allowed = frozenset((*roles, Role.ADMIN))

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(role.value for role in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role: expected one of {names}, got {user.role.value!r}",
            )
        return user

    return check


def require_only(*roles: Role) -> Callable[..., User]:
    """A dependency that admits only ``roles`` (admin not implied): GMP records and
    decisions, which IT administrators do not make."""
    allowed = frozenset(roles)

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(role.value for role in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role: expected one of {names}, got {user.role.value!r}",
            )
        return user

    return check


Reader = Annotated[User, Depends(require(Role.OPERATOR, Role.QA))]
QaUser = Annotated[User, Depends(require(Role.QA))]
Shipper = Annotated[User, Depends(require(Role.OPERATOR))]
Device = Annotated[User, Depends(require(Role.DEVICE))]
Anyone = Annotated[User, Depends(require(Role.OPERATOR, Role.QA, Role.DEVICE))]
Admin = Annotated[User, Depends(require())]
#: QA decisions (release, reject, hold) and inspections: QA only, not admin.
QaOnly = Annotated[User, Depends(require_only(Role.QA))]
#: A batch's production record and raw-material lots: production or QA, not admin.
RecordWriter = Annotated[User, Depends(require_only(Role.OPERATOR, Role.QA))]
Address = Annotated[str, Depends(client_address)]
CurrentUser = Annotated[User, Depends(current_user)]
Policy = Annotated[LockoutPolicy, Depends(lockout_policy)]
Token = Annotated[str, Depends(bearer_token)]


# -- failed logins and e-signatures: throttle, lockout, audit -------------------------------


def refuse_if_locked(request: Request, username: str, address: str, kind: str) -> None:
    """Before a password is checked: refuse (429, or 403 when only an admin can help) a
    locked user name or a throttled address; the refusal is audited."""
    services = services_of(request)
    now = datetime.now(UTC)
    policy = lockout_policy(request)
    with read_transaction(services.engine) as conn:
        refused = refusal(conn, username, address, now=now, policy=policy)
    if refused is None:
        return
    with write_transaction(services.engine) as conn:
        audit.append(
            conn,
            actor=username[:64],
            action=f"{kind}_refused",
            entity="user",
            entity_key=username[:256],
            old_value=None,
            new_value={"address": address},
            reason=refused.message,
            now=now,
        )
    if refused.retry_after is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{kind}: {refused.message}")
    raise HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"{kind}: {refused.message}",
        headers={"Retry-After": str(refused.retry_after)},
    )


def record_failed_attempt(
    request: Request, username: str, address: str, kind: str, why: str
) -> Failure:
    """After a wrong password: count it for the user name and the address, audit it, and
    when it locks the name, audit that and raise an alert for QA."""
    services = services_of(request)
    now = datetime.now(UTC)
    with write_transaction(services.engine) as conn:
        failure = record_failure(conn, username, address, now=now, policy=lockout_policy(request))
        audit.append(
            conn,
            actor=username[:64],
            action=f"{kind}_failed",
            entity="user",
            entity_key=username[:256],
            old_value=None,
            new_value={"address": address, "failures": failure.failures},
            reason=why,
            now=now,
        )
        if failure.locked:
            until = failure.locked_until
            forever = until is None or until.year >= 9999
            when = (
                "until an admin enables it"
                if until is None or forever
                else (f"until {until.isoformat()}")
            )
            detail = (
                f"user name {username!r} locked after {failure.failures} failed attempts "
                f"(last from {address}) {when}"
            )
            audit.append(
                conn,
                actor="system",
                action="user_locked",
                entity="user",
                entity_key=username[:256],
                old_value=None,
                new_value={"locked_until": None if until is None or forever else until.isoformat()},
                reason=detail,
                now=now,
            )
            conn.execute(
                alerts.insert(),
                {
                    "at": now,
                    "kind": "account_locked",
                    "subject": username[:512],
                    "event_id": "",
                    "detail": detail,
                },
            )
    return failure


def locked_note(failure: Failure) -> str:
    if not failure.locked:
        return ""
    return "; too many failed attempts: the user name is now locked"
