"""``/production/…``: product master data, lot rules and lots, batch orders.

QA edits (audited; GMP data: QA only, not admin); operators read; a line (a device identity
bound to a site/line with ``serialtrace serials add-line``) reads the products and its own
orders, takes lots by rule, claims given lots and reports its orders' start and close. Errors are
``{"detail": …, "problems"?: […]}`` with 404, 409 or 422.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select

import gs1
from epcis import EpcisError, loads_bounded
from epcis import xml as epcis_xml
from epcis.errors import PayloadLimitError
from server.api.app_state import services_of
from server.api.deps import Device, QaOnly, ReadConn, Reader, require
from server.auth import Role, User
from server.production import lots as lot_codes
from server.production import orders, products
from server.production.errors import ProductionError, Refused
from server.serials.tables import serial_lines
from server.store import write_transaction

router = APIRouter(prefix="/production", tags=["production"])
LineOrReader = Annotated[User, Depends(require(Role.OPERATOR, Role.QA, Role.DEVICE))]
MAX_DOCUMENT = 16 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def line_of(conn: Connection, user: User) -> tuple[str, str]:
    """The site and line of a device identity (Refused if it is not bound to one)."""
    row = conn.execute(
        select(serial_lines.c.site, serial_lines.c.line).where(
            serial_lines.c.username == user.username
        )
    ).first()
    if row is None:
        raise Refused(
            f"line: {user.username!r} is not registered as a line (serialtrace serials add-line)"
        )
    return str(row.site), str(row.line)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Body):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


# -- products -------------------------------------------------------------------------------


@router.get("/products")
def list_products(
    conn: ReadConn, _user: LineOrReader, active: bool = False
) -> list[dict[str, Any]]:
    """Every product (``active=true``: the ones lines may pack)."""
    return [p.model_dump() for p in products.listing(conn, active_only=active)]


@router.get("/products/{gtin}", responses={404: {}})
def get_product(gtin: str, conn: ReadConn, _user: LineOrReader) -> dict[str, Any]:
    return products.get(conn, _gtin(gtin)).model_dump()


@router.put("/products/{gtin}", responses={422: {}})
def put_product(gtin: str, body: dict[str, Any], request: Request, user: QaOnly) -> dict[str, Any]:
    """Create or change a product: its fields and a ``reason`` (audited)."""
    data = dict(body)
    reason = data.pop("reason", None)
    if not isinstance(reason, str) or len(reason.strip()) < 3:
        raise Refused("reason: expected why the master data changes (3 characters or more)")
    data["gtin"] = gtin
    product = products.product_from(data)
    with write_transaction(services_of(request).engine) as conn:
        changed = products.put(conn, product, actor=user.username, reason=reason, now=_now())
    return {**product.model_dump(), "changed": changed}


@router.post("/products/import", responses={413: {}, 422: {}})
async def import_products(
    request: Request,
    user: QaOnly,
    format: Annotated[Literal["csv", "epcis"], Query()],
    reason: Annotated[str, Query(min_length=3, max_length=2000)] = "master data import",
) -> dict[str, Any]:
    """Products from a CSV file or an EPCIS document's master data (2.0 JSON; 2.0 or 1.2
    XML: an EPCISDocument's header or an EPCISMasterDataDocument), all or none."""
    payload = await _body(request)
    if format == "epcis" and payload.lstrip()[:1] == b"<":
        try:
            found = products.from_epcis(epcis_xml.decode_any(payload))
        except EpcisError as exc:
            raise Refused(str(exc)) from None
    else:
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Refused("document: expected UTF-8") from None
        if format == "csv":
            found = products.from_csv(text)
        else:
            try:
                document = loads_bounded(text, field="document")
            except PayloadLimitError as exc:
                raise Refused(str(exc)) from None
            found = products.from_epcis(document)
    with write_transaction(services_of(request).engine) as conn:
        changed = [
            p.gtin
            for p in found
            if products.put(conn, p, actor=user.username, reason=reason, now=_now())
        ]
    return {"products": len(found), "changed": changed}


# -- lot rules and lots ---------------------------------------------------------------------


class RuleBody(_Body):
    pattern: Annotated[str, Field(min_length=1, max_length=128)]
    site_code: Annotated[str, Field(max_length=10)] = ""
    line_code: Annotated[str, Field(max_length=10)] = ""
    shifts: Annotated[str, Field(max_length=256)] = ""
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


@router.get("/lot-rules")
def list_rules(conn: ReadConn, _user: Reader) -> list[dict[str, Any]]:
    return [rule.as_dict() for rule in lot_codes.rules(conn)]


@router.put("/lot-rules/{site}/{line}", responses={422: {}})
def put_rule(
    site: str, line: str, body: RuleBody, request: Request, user: QaOnly
) -> dict[str, Any]:
    """The lot-code rule of a line (``*``: every line of the site; ``*``/``*``: everywhere)."""
    rule = lot_codes.make_rule(
        site, line, body.pattern, body.site_code, body.line_code, body.shifts, body.timezone
    )
    with write_transaction(services_of(request).engine) as conn:
        lot_codes.put_rule(conn, rule, actor=user.username, reason=body.reason, now=_now())
    now = rule.pattern.render(lot_codes.local_moment(rule, _now(), None), 1)
    return {**rule.as_dict(), "example": now}


class LotRequest(_Body):
    gtin: str
    manufacturing_date: date | None = None


@router.post("/lots", responses={404: {}, 409: {}})
def take_lot(body: LotRequest, request: Request, user: Device) -> dict[str, Any]:
    """The caller line's next lot by rule, recorded for the GTIN."""
    with write_transaction(services_of(request).engine) as conn:
        site, line = line_of(conn, user)
        lot = lot_codes.next_lot(
            conn,
            gtin=_gtin(body.gtin),
            site=site,
            line=line,
            moment=_now(),
            actor=user.username,
            manufacturing_date=body.manufacturing_date,
        )
    return {"gtin": _gtin(body.gtin), "lot": lot, "source": "rule"}


class ClaimRequest(_Body):
    gtin: str
    lot: Annotated[str, Field(min_length=1, max_length=20)]
    source: Literal["rule", "manual", "mes", "plc"] = "manual"


@router.post("/lots/claim", responses={409: {"description": "the lot is known for the GTIN"}})
def claim_lot(body: ClaimRequest, request: Request, user: Device) -> dict[str, Any]:
    """Record a lot the line uses (typed, from MES or the PLC, or from its reserve)."""
    with write_transaction(services_of(request).engine) as conn:
        site, line = line_of(conn, user)
        lot_codes.claim(
            conn, gtin=_gtin(body.gtin), lot=body.lot, source=body.source, site=site,
            line=line, actor=user.username, now=_now(),
        )  # fmt: skip
    return {"gtin": _gtin(body.gtin), "lot": body.lot, "claimed": True}


class ReserveRequest(_Body):
    days: Annotated[int, Field(ge=1, le=14)] = 2
    per_period: Annotated[int, Field(ge=1, le=50)] = 3


@router.post("/lots/reserve")
def reserve_lots(body: ReserveRequest, request: Request, user: Device) -> dict[str, Any]:
    """Top up the caller line's offline reserve of lots by rule; the rule and the lots."""
    with write_transaction(services_of(request).engine) as conn:
        site, line = line_of(conn, user)
        return lot_codes.reserve(
            conn, site=site, line=line, days=body.days, per_period=body.per_period,
            now=_now(), actor=user.username,
        )  # fmt: skip


class OverrideBody(_Body):
    gtin: str
    lot: Annotated[str, Field(min_length=1, max_length=20)]
    expiry: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    expiry_computed: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    manufacturing_date: date
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


@router.post("/expiry-overrides", status_code=201, responses={422: {}})
def expiry_override(body: OverrideBody, request: Request, user: Device) -> dict[str, Any]:
    """The caller line started a batch (without an order) with another expiry than the
    computed one: audited on the batch's history with the operator's reason."""
    with write_transaction(services_of(request).engine) as conn:
        site, line = line_of(conn, user)
        orders.expiry_override(
            conn, gtin=_gtin(body.gtin), lot=body.lot, expiry=body.expiry,
            computed=body.expiry_computed, manufacturing_date=body.manufacturing_date,
            reason=body.reason, site=site, line=line, now=_now(),
        )  # fmt: skip
    return {"gtin": _gtin(body.gtin), "lot": body.lot, "audited": True}


# -- orders -------------------------------------------------------------------------------


@router.post("/orders", status_code=201, responses={409: {}, 422: {}})
def create_order(body: dict[str, Any], request: Request, user: QaOnly) -> dict[str, Any]:
    """A batch order (lot omitted: by rule, taken at release; expiry omitted: computed)."""
    order = orders.order_from(body)
    with write_transaction(services_of(request).engine) as conn:
        return orders.create(conn, order, actor=user.username, source="api", now=_now())


@router.post("/orders/import", status_code=201, responses={409: {}, 413: {}, 422: {}})
async def import_orders(request: Request, user: QaOnly) -> dict[str, Any]:
    """Orders from a CSV file, all or none."""
    payload = await _body(request)
    try:
        found = orders.from_csv(payload.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise Refused("document: expected UTF-8") from None
    with write_transaction(services_of(request).engine) as conn:
        created = [
            orders.create(conn, order, actor=user.username, source="csv", now=_now())
            for order in found
        ]
    return {"orders": created}


@router.get("/orders")
def list_orders(
    conn: ReadConn,
    _user: Reader,
    site: str | None = None,
    line: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    return orders.listing(conn, site=site, line=line, states=tuple(state or ()))


@router.get("/orders/{order_id}", responses={404: {}})
def order_detail(order_id: int, conn: ReadConn, _user: Reader) -> dict[str, Any]:
    """The plan beside the line's reconciliation and the server's units of the batch."""
    return orders.detail(conn, order_id)


@router.post("/orders/{order_id}/release", responses={404: {}, 409: {}})
def release_order(order_id: int, request: Request, user: QaOnly) -> dict[str, Any]:
    with write_transaction(services_of(request).engine) as conn:
        return orders.release(conn, order_id, actor=user.username, now=_now())


@router.post("/orders/{order_id}/cancel", responses={404: {}, 409: {}})
def cancel_order(order_id: int, body: Reason, request: Request, user: QaOnly) -> dict[str, Any]:
    with write_transaction(services_of(request).engine) as conn:
        return orders.cancel(conn, order_id, actor=user.username, reason=body.reason, now=_now())


@router.get("/line/orders")
def my_orders(conn: ReadConn, user: Device) -> list[dict[str, Any]]:
    """The caller line's released and started orders."""
    site, line = line_of(conn, user)
    return orders.listing(conn, site=site, line=line, states=("released", "started"))


class StartedBody(_Body):
    operator: Annotated[str, Field(min_length=1, max_length=64)]


@router.post("/orders/{order_id}/started", responses={404: {}, 409: {}})
def order_started(
    order_id: int, body: StartedBody, request: Request, user: Device
) -> dict[str, Any]:
    with write_transaction(services_of(request).engine) as conn:
        site, line = line_of(conn, user)
        return orders.started(
            conn, order_id, site=site, line=line, operator=body.operator, now=_now()
        )


class ClosedBody(_Body):
    reconciliation: dict[str, int | bool]


@router.post("/orders/{order_id}/closed", responses={404: {}, 409: {}})
def order_closed(order_id: int, body: ClosedBody, request: Request, user: Device) -> dict[str, Any]:
    with write_transaction(services_of(request).engine) as conn:
        site, line = line_of(conn, user)
        return orders.closed(
            conn, order_id, site=site, line=line, reconciliation=body.reconciliation, now=_now()
        )


# -- plumbing -------------------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    payload = bytearray()
    async for chunk in request.stream():
        payload.extend(chunk)
        if len(payload) > MAX_DOCUMENT:
            raise Refused(f"document: expected at most {MAX_DOCUMENT} bytes, got more")
    return bytes(payload)


def _gtin(value: str) -> str:
    try:
        return gs1.Gtin.parse(value).value
    except gs1.Gs1Error as exc:
        raise Refused(str(exc)) from None


def install(app: FastAPI) -> None:
    """Mount the routes and the error handler on ``app``."""
    app.include_router(router)

    @app.exception_handler(ProductionError)
    async def _production_error(_request: Request, exc: ProductionError) -> JSONResponse:
        content: dict[str, Any] = {"detail": str(exc)}
        if exc.problems:
            content["problems"] = exc.problems[:1000]
        return JSONResponse(status_code=exc.status, content=content)
