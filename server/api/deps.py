"""Dependencies: services, database connections, the current user and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from server.api.app_state import services_of
from server.auth import Role, User, user_for_token
from server.errors import StoreError
from server.store import read_transaction

_bearer = HTTPBearer(auto_error=False, description="token from POST /auth/token")


def read_conn(request: Request) -> Iterator[Connection]:
    """A read transaction for the request."""
    try:
        with read_transaction(services_of(request).engine) as conn:
            yield conn
    except OperationalError as exc:
        raise StoreError(f"store unavailable: {exc.orig}") from exc


ReadConn = Annotated[Connection, Depends(read_conn)]


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authorization: expected 'Bearer <token>', got none",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with read_transaction(services_of(request).engine) as conn:
        user = user_for_token(conn, credentials.credentials, now=datetime.now(UTC))
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authorization: token unknown or expired",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


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


Reader = Annotated[User, Depends(require(Role.OPERATOR, Role.QA))]
QaUser = Annotated[User, Depends(require(Role.QA))]
Shipper = Annotated[User, Depends(require(Role.OPERATOR))]
Device = Annotated[User, Depends(require(Role.DEVICE))]
Anyone = Annotated[User, Depends(require(Role.OPERATOR, Role.QA, Role.DEVICE))]
