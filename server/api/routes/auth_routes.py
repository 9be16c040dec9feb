"""Sign in and out: ``POST /auth/token`` (user name and password for a bearer token),
``POST /auth/logout`` (the token is revoked on the server), ``GET /auth/me``,
``POST /auth/password`` (change your own password).

Failed attempts are throttled per user name and client address, lock the user name after
``lockout_failures`` (see :mod:`server.auth`) and are audited, each one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import BaseModel, Field

from server import audit
from server.api.app_state import services_of
from server.api.deps import (
    Address,
    CurrentUser,
    Token,
    locked_note,
    record_failed_attempt,
    refuse_if_locked,
)
from server.auth import (
    authenticate,
    clear_failures,
    issue_token,
    revoke_token,
    revoke_user_tokens,
    set_password,
)
from server.store import write_transaction

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    full_name: str | None = None


@router.post(
    "/auth/token",
    responses={
        401: {"description": "user name or password wrong"},
        403: {"description": "user name locked until an admin enables it"},
        429: {"description": "user name locked for a while, or too many failures from here"},
    },
)
def token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    address: Address,
) -> TokenOut:
    services = services_of(request)
    ttl = timedelta(seconds=services.settings.token_ttl_seconds)
    refuse_if_locked(request, username, address, "login")
    with write_transaction(services.engine) as conn:
        user = authenticate(conn, username, password)
        if user is not None:
            now = datetime.now(UTC)
            clear_failures(conn, username)
            access_token = issue_token(conn, user, now=now, ttl=ttl)
            audit.append(
                conn,
                actor=user.username,
                action="login",
                entity="user",
                entity_key=user.username,
                old_value=None,
                new_value={"address": address},
                reason="signed in",
                now=now,
            )
    if user is None:
        failure = record_failed_attempt(
            request, username, address, "login", "user name or password wrong"
        )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "username or password wrong" + locked_note(failure)
        )
    return TokenOut(
        access_token=access_token,
        expires_in=int(ttl.total_seconds()),
        role=user.role.value,
        full_name=user.full_name,
    )


class Me(BaseModel):
    username: str
    role: str
    full_name: str | None
    printed_name: str


@router.get("/auth/me")
def me(user: CurrentUser) -> Me:
    """Who the token belongs to, with the name their signatures print."""
    return Me(
        username=user.username,
        role=user.role.value,
        full_name=user.full_name,
        printed_name=user.printed_name,
    )


@router.post("/auth/logout", status_code=204)
def logout(request: Request, user: CurrentUser, token: Token) -> None:
    """Revoke this token on the server: it no longer works, whoever holds a copy."""
    now = datetime.now(UTC)
    with write_transaction(services_of(request).engine) as conn:
        revoke_token(conn, token, now=now)
        audit.append(
            conn,
            actor=user.username,
            action="logout",
            entity="user",
            entity_key=user.username,
            old_value=None,
            new_value=None,
            reason="signed out",
            now=now,
        )


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]


@router.post(
    "/auth/password",
    status_code=204,
    responses={403: {"description": "current password wrong"}, 422: {"description": "policy"}},
)
def change_password(
    request: Request, body: PasswordChange, user: CurrentUser, token: Token, address: Address
) -> None:
    """Change your own password (the current one again, the new one by the policy); your
    other tokens are revoked, this one stays."""
    services = services_of(request)
    refuse_if_locked(request, user.username, address, "password")
    with write_transaction(services.engine) as conn:
        checked = authenticate(conn, user.username, body.current_password)
    if checked is None:
        failure = record_failed_attempt(
            request, user.username, address, "password", "current password wrong"
        )
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "current_password: does not match" + locked_note(failure)
        )
    now = datetime.now(UTC)
    with write_transaction(services.engine) as conn:
        try:
            set_password(
                conn,
                user.id,
                user.username,
                body.new_password,
                now=now,
                min_length=services.settings.password_min_length,
            )
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"new_{exc}") from exc
        revoke_user_tokens(conn, user.id, now=now, keep=token)
        audit.append(
            conn,
            actor=user.username,
            action="user_password",
            entity="user",
            entity_key=user.username,
            old_value=None,
            new_value={"password_changed_at": now.isoformat()},
            reason="changed own password",
            now=now,
        )
