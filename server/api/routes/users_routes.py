"""Accounts, for admins: list, create, disable, enable, reset a password, change a role or
the printed name, bind a device account to its line, revoke tokens, and the periodic access
review. Every change is audited
with the admin's reason (``entity`` ``user`` in ``GET /audit``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

import server.api.paths  # noqa: F401  (the gs1text path convertor)
from server import auth
from server.api.app_state import services_of
from server.api.deps import Admin, ReadConn
from server.store import write_transaction

router = APIRouter(prefix="/users", tags=["users (admin)"])
Reason = Annotated[str, Field(min_length=3, max_length=2000, description="why (audited)")]
RoleName = Literal["device", "operator", "qa", "admin"]
UserPath = "/{username:gs1text}"
LineName = Annotated[
    str,
    Field(
        min_length=3,
        max_length=129,
        description="a registered line as SITE/LINE (device accounts only)",
        examples=["site-1/line-1"],
    ),
]


class AccountOut(BaseModel):
    username: str
    role: str
    full_name: str | None
    active: bool
    created_at: datetime
    password_changed_at: datetime | None
    locked_until: datetime | None
    failures: int
    active_tokens: int
    last_login: datetime | None
    line: str | None = Field(description="SITE/LINE a device account captures for")

    @classmethod
    def of(cls, account: auth.Account) -> AccountOut:
        return cls(
            username=account.username,
            role=account.role.value,
            full_name=account.full_name,
            active=account.active,
            created_at=account.created_at,
            password_changed_at=account.password_changed_at,
            locked_until=account.locked_until,
            failures=account.failures,
            active_tokens=account.active_tokens,
            last_login=account.last_login,
            line=account.line,
        )


class NewUser(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    role: RoleName
    full_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    line: LineName | None = None
    reason: Reason = "account created"


class ReasonIn(BaseModel):
    reason: Reason


class PasswordIn(BaseModel):
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    reason: Reason


class RoleIn(BaseModel):
    role: RoleName
    reason: Reason


class FullNameIn(BaseModel):
    full_name: Annotated[str, Field(min_length=1, max_length=128)] | None
    reason: Reason


class LineIn(BaseModel):
    line: LineName | None = Field(description="SITE/LINE; null unbinds (captures nothing)")
    reason: Reason


class LineOut(BaseModel):
    username: str
    line: str | None


class Revoked(BaseModel):
    tokens_revoked: int


@contextmanager
def _account_errors() -> Iterator[None]:
    try:
        yield
    except auth.AccountError as exc:
        code = (
            status.HTTP_404_NOT_FOUND
            if str(exc).startswith("username: no user")
            else status.HTTP_409_CONFLICT
        )
        raise HTTPException(code, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.get("")
def list_accounts(conn: ReadConn, _admin: Admin) -> list[AccountOut]:
    return [AccountOut.of(a) for a in auth.list_users(conn, now=datetime.now(UTC))]


class Review(BaseModel):
    generated_at: datetime
    period_days: int
    roles: dict[str, int]
    findings: list[str]
    users: list[AccountOut]
    changes: list[dict[str, object]]


@router.get("/review")
def review(
    conn: ReadConn,
    _admin: Admin,
    period_days: Annotated[int, Query(ge=1, le=3660)] = 90,
) -> Review:
    """The periodic access review: every account with its role, state, last login and
    password age; what to look at; the account changes of the period."""
    report = auth.access_review(conn, now=datetime.now(UTC), period_days=period_days)
    return Review(
        generated_at=report.generated_at,
        period_days=period_days,
        roles=report.roles,
        findings=report.findings,
        users=[AccountOut.of(a) for a in report.users],
        changes=report.changes,
    )


@router.post("", status_code=201, responses={409: {"description": "user exists"}})
def create(body: NewUser, request: Request, admin: Admin) -> AccountOut:
    settings = services_of(request).settings
    now = datetime.now(UTC)
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        if auth.find_user(conn, body.username) is not None:
            raise auth.AccountError(f"username: {body.username!r} exists already")
        auth.create_account(
            conn,
            body.username,
            body.password,
            auth.Role(body.role),
            full_name=body.full_name,
            actor=admin.username,
            reason=body.reason,
            now=now,
            min_length=settings.password_min_length,
            line=body.line,
        )
        account = auth.find_user(conn, body.username)
    assert account is not None
    return AccountOut.of(account)


@router.get(UserPath, responses={404: {"description": "no such user"}})
def get_account(username: str, conn: ReadConn, _admin: Admin) -> AccountOut:
    account = auth.list_users(conn, username=username, now=datetime.now(UTC))
    if not account:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"username: no user {username!r}")
    return AccountOut.of(account[0])


@router.post(UserPath + "/disable", responses={404: {"description": "no such user"}})
def disable(username: str, body: ReasonIn, request: Request, admin: Admin) -> Revoked:
    """Disable the user: no login, no token works any more."""
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        revoked = auth.disable_account(
            conn, username, actor=admin.username, reason=body.reason, now=datetime.now(UTC)
        )
    return Revoked(tokens_revoked=revoked)


@router.post(UserPath + "/enable", status_code=204)
def enable(username: str, body: ReasonIn, request: Request, admin: Admin) -> None:
    """Enable the user again (this also ends a lockout)."""
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        auth.enable_account(
            conn, username, actor=admin.username, reason=body.reason, now=datetime.now(UTC)
        )


@router.post(UserPath + "/password")
def reset(username: str, body: PasswordIn, request: Request, admin: Admin) -> Revoked:
    """Set a new password (by the policy); the user's tokens are revoked."""
    settings = services_of(request).settings
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        revoked = auth.reset_password(
            conn,
            username,
            body.password,
            actor=admin.username,
            reason=body.reason,
            now=datetime.now(UTC),
            min_length=settings.password_min_length,
        )
    return Revoked(tokens_revoked=revoked)


@router.post(UserPath + "/role", status_code=204)
def role(username: str, body: RoleIn, request: Request, admin: Admin) -> None:
    """Change the role; the user signs in again."""
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        auth.change_role(
            conn,
            username,
            auth.Role(body.role),
            actor=admin.username,
            reason=body.reason,
            now=datetime.now(UTC),
        )


@router.post(
    UserPath + "/line",
    responses={
        404: {"description": "no such user"},
        409: {"description": "not a device account, or bound to that line already"},
        422: {"description": "not SITE/LINE, or no such registered line"},
    },
)
def line(username: str, body: LineIn, request: Request, admin: Admin) -> LineOut:
    """Bind a device account to the registered line it captures for (``null``: unbind it,
    so it may capture nothing). Audited (``user_line``)."""
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        bound = auth.bind_line(
            conn,
            username,
            body.line,
            actor=admin.username,
            reason=body.reason,
            now=datetime.now(UTC),
        )
    return LineOut(username=username, line=bound)


@router.post(UserPath + "/full-name", status_code=204)
def full_name(username: str, body: FullNameIn, request: Request, admin: Admin) -> None:
    """Set the printed name the user's signatures carry."""
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        auth.change_full_name(
            conn,
            username,
            body.full_name,
            actor=admin.username,
            reason=body.reason,
            now=datetime.now(UTC),
        )


@router.post(UserPath + "/revoke-tokens")
def revoke(username: str, body: ReasonIn, request: Request, admin: Admin) -> Revoked:
    """End every session of the user now."""
    with _account_errors(), write_transaction(services_of(request).engine) as conn:
        revoked = auth.revoke_tokens(
            conn, username, actor=admin.username, reason=body.reason, now=datetime.now(UTC)
        )
    return Revoked(tokens_revoked=revoked)
