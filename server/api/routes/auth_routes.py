"""``POST /auth/token``: exchange a username and password for a bearer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from pydantic import BaseModel

from server.api.app_state import services_of
from server.auth import authenticate, issue_token
from server.store import write_transaction

router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


@router.post("/auth/token")
def token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> Token:
    services = services_of(request)
    ttl = timedelta(seconds=services.settings.token_ttl_seconds)
    with write_transaction(services.engine) as conn:
        user = authenticate(conn, username, password)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "username or password wrong")
        access_token = issue_token(conn, user, now=datetime.now(UTC), ttl=ttl)
    return Token(
        access_token=access_token, expires_in=int(ttl.total_seconds()), role=user.role.value
    )
