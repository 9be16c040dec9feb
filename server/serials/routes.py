"""HTTP routes of the serial authority (``/serials/…``).

Lines (a device identity registered with ``serialtrace serials add-line``):

* ``POST /serials/pools``: a pool of serials or SSCCs (OPEN-SCS ``SNRequestUnallocated``);
* ``POST /serials/reports``: what the line did with them: used, destroyed, returned
  (``SNtoEncoded`` / ``SNReturnUnallocated`` in OPEN-SCS terms).

QA and admin: register GTINs and SSCC prefixes, import lists, read the books, report usage
back to a list's supplier; admin: bind device identities to lines, raise a floor by hand.
Every error is ``{"detail": …, "return_status": …}`` (OPEN-SCS return status names).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from gs1.serials import ConfigError, SerialScheme, alphabet_named
from server.api.app_state import services_of
from server.api.deps import Device, QaUser, ReadConn, require
from server.auth import Role, User
from server.production import products
from server.serials.authority import ScopeKey, SerialAuthority
from server.serials.errors import AuthorityError, Refused, Unavailable
from server.serials.provisioning import FORMATS, parse_document

router = APIRouter(prefix="/serials", tags=["serials"])

Admin = Annotated[User, Depends(require(Role.ADMIN))]


def authority_of(request: Request) -> SerialAuthority:
    authority: SerialAuthority | None = getattr(request.app.state, "serial_authority", None)
    if authority is None:
        raise Unavailable("serial authority: not running in this server")
    return authority


Authority = Annotated[SerialAuthority, Depends(authority_of)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopeRef(_Body):
    kind: Literal["sgtin", "sscc"]
    gtin: str | None = Field(default=None, max_length=14)
    extension: int | None = Field(default=None, ge=0, le=9)
    company_prefix: str | None = Field(default=None, max_length=12)

    def key(self) -> ScopeKey:
        if self.kind == "sgtin":
            if self.gtin is None:
                raise Refused("gtin: expected the GTIN of the serials, got none")
            return ScopeKey.sgtin(self.gtin)
        if self.extension is None or self.company_prefix is None:
            raise Refused("extension, company_prefix: expected both for SSCCs, got none")
        return ScopeKey.sscc(self.extension, self.company_prefix)


class PoolRequest(ScopeRef):
    count: int = Field(ge=1, description="identifiers wanted (OPEN-SCS Count)")
    request_token: str = Field(
        min_length=1,
        max_length=64,
        description="the line's id of this request: a retry with the same token gets the same pool",
    )
    high_water: int | None = Field(
        default=None,
        ge=0,
        description="the highest stop position this line ever received for the scope",
    )


class ReportRequest(ScopeRef):
    used: list[Annotated[str, Field(max_length=20)]] = []
    destroyed: list[Annotated[str, Field(max_length=20)]] = []
    returned: list[Annotated[str, Field(max_length=20)]] = []


class RegisterRequest(ScopeRef):
    alphabet: Literal["numeric", "safe", "cset82"] | None = Field(
        default=None, description="default: the product's master data, else numeric"
    )
    length: int | None = Field(
        default=None, ge=4, le=20, description="default: the product's master data, else 12"
    )
    volume: int | None = Field(default=None, ge=1, description="serials planned, all batches")
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class LineRequest(_Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    site: Annotated[str, Field(min_length=1, max_length=64)]
    line: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class FloorRequest(_Body):
    next_position: int = Field(ge=0)
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/pools",
    response_model=None,
    responses={
        200: {"description": "the pool: {return_status, pool: {id, kind, scope, start, stop, "
              "count, serial_numbers, …}}"},
        403: {}, 404: {}, 409: {}, 422: {}, 503: {},
    },
)  # fmt: skip
def request_pool(body: PoolRequest, authority: Authority, user: Device) -> JSONResponse:
    """A pool for the caller's line, recorded durably before it is answered."""
    pool = authority.grant(
        user, body.key(), body.count, body.request_token, high_water=body.high_water, now=_now()
    )
    status = "InsufficientSerialNumbers3" if pool.insufficient else "NoError1"
    # JSONResponse directly: 10,000 strings through FastAPI's encoder cost more than the pool
    return JSONResponse({"return_status": status, "pool": pool.as_dict()})


@router.post("/reports", responses={403: {}, 404: {}, 422: {}})
def report_usage(body: ReportRequest, authority: Authority, user: Device) -> dict[str, Any]:
    """What the line did with identifiers it was issued (idempotent)."""
    result = authority.report(
        user,
        body.key(),
        {"used": body.used, "destroyed": body.destroyed, "returned": body.returned},
        now=_now(),
    )
    return {"return_status": "NoError1", **result.as_dict()}


@router.get("/scopes")
def list_scopes(authority: Authority, _user: QaUser) -> list[dict[str, Any]]:
    """Every GTIN and SSCC prefix the authority serves, with its books."""
    return [summary.as_dict() for summary in authority.scopes()]


@router.post("/scopes", status_code=201, responses={409: {}, 422: {}, 503: {}})
def register_scope(
    body: RegisterRequest, authority: Authority, user: QaUser, conn: ReadConn
) -> dict[str, Any]:
    """Let the authority generate a GTIN's serials (scheme checked against the EU FMD limit
    for ``volume``; alphabet and length from the product's master data unless given) or
    count an SSCC prefix's references (audited)."""
    key = body.key()
    if key.kind == "sscc":
        scope = authority.register_sscc(
            key.extension, key.company_prefix, actor=user.username, reason=body.reason, now=_now()
        )
        return scope.as_dict()
    if body.volume is None:
        raise Refused("volume: expected the serials planned for the GTIN (all batches), got none")
    product = products.find(conn, key.name)
    alphabet = body.alphabet or (product.serial_alphabet if product else "numeric")
    length = body.length or (product.serial_length if product else 12)
    try:
        scheme = SerialScheme(alphabet_named(alphabet), length)
    except ConfigError as exc:
        raise Refused(str(exc)) from None
    scope = authority.register_gtin(
        key.name, scheme, body.volume, actor=user.username, reason=body.reason, now=_now()
    )
    return scope.as_dict()


@router.get("/scopes/{kind}/{name}", responses={404: {}})
def scope_books(kind: str, name: str, authority: Authority, _user: QaUser) -> dict[str, Any]:
    return authority.summary(ScopeKey.parse(kind, name)).as_dict()


@router.get("/scopes/{kind}/{name}/status", responses={404: {}})
def value_status(
    kind: str,
    name: str,
    authority: Authority,
    _user: QaUser,
    value: Annotated[str, Query(min_length=1, max_length=20)],
) -> dict[str, Any]:
    """Where one serial or SSCC stands: unissued, issued to a line, used, destroyed, returned."""
    return authority.status_of(ScopeKey.parse(kind, name), value)


@router.post("/scopes/{kind}/{name}/floor", responses={404: {}, 422: {}})
def raise_floor(
    kind: str, name: str, body: FloorRequest, authority: Authority, user: Admin
) -> dict[str, Any]:
    """Skip every position below ``next_position`` (after a restore without the journal)."""
    changed = authority.raise_floor(
        ScopeKey.parse(kind, name),
        body.next_position,
        actor=user.username,
        reason=body.reason,
        now=_now(),
    )
    return {"raised": changed is not None, "next_position": max(body.next_position, 0)}


@router.post("/lines", status_code=201, responses={409: {}, 422: {}})
def register_line(body: LineRequest, authority: Authority, user: Admin) -> dict[str, Any]:
    """Bind a device identity to a line (audited)."""
    line = authority.register_line(
        body.username, body.site, body.line, actor=user.username, reason=body.reason, now=_now()
    )
    return {"username": line.username, "site": line.site, "line": line.line}


@router.post(
    "/imports",
    status_code=201,
    responses={413: {}, 422: {"description": "refused, with every problem found"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_list(
    request: Request,
    authority: Authority,
    user: QaUser,
    format: Annotated[Literal["csv", "epcis", "openscs"], Query()],
    supplier: Annotated[str, Query(min_length=1, max_length=256)],
    reference: Annotated[str, Query(max_length=256)] = "",
) -> JSONResponse:
    """Import serials or SSCCs from a brand owner or an L4 system (whole or not at all)."""
    limit = services_of(request).settings.serials_max_import_bytes
    payload = bytearray()
    async for chunk in request.stream():
        payload.extend(chunk)
        if len(payload) > limit:
            return JSONResponse(
                status_code=413,
                content={"detail": f"document: expected at most {limit} bytes, got more"},
            )
    document = parse_document(bytes(payload), format, reference=reference)
    records = authority.import_lists(
        document.lists,
        format=document.format,
        supplier=supplier,
        reference=document.reference,
        sha256=document.sha256,
        actor=user.username,
        now=_now(),
    )
    return JSONResponse(status_code=201, content={"imports": records, "count": document.count})


@router.get(
    "/imports/{import_id}/usage",
    responses={200: {"content": {"text/csv": {}}}, 404: {}},
)
def import_usage(
    import_id: int,
    authority: Authority,
    _user: QaUser,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """What became of each value of an import: the report back to its supplier."""
    usage = authority.import_usage(import_id)
    if format == "json":
        return usage
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "scope", "value", "status", "line"])
    for row in usage["values"]:
        writer.writerow([usage["kind"], usage["scope"], row["value"], row["status"], row["line"]])
    return Response(out.getvalue(), media_type="text/csv")


def install(app: FastAPI) -> None:
    """Mount the routes and the error handler on ``app``."""
    app.include_router(router)

    @app.exception_handler(AuthorityError)
    async def _authority_error(_request: Request, exc: AuthorityError) -> JSONResponse:
        content: dict[str, Any] = {"detail": str(exc), "return_status": exc.return_status}
        if exc.problems:
            content["problems"] = exc.problems[:1000]
        return JSONResponse(status_code=exc.status, content=content)


__all__ = ["FORMATS", "install", "router"]
