"""Batch orders: what to pack, how many, which lot, made when, on which line.

::

    created ──release──> released ──(the operator confirms on the line's HMI)──> started
       │                    │                                                      │
       └──cancel──> cancelled <┘                                    (batch close) ──> closed

An order comes from QA through the API or the web UI, from a CSV file, or from MES over MQTT
(``serialtrace/v1/{site}/{line}/mes/orders``). Its expiry is computed from the manufacturing
date and the product's shelf life and rule; another expiry needs a reason, which the audit
trail keeps. A given lot (typed, or MES's) is claimed when the order is made, and refused if
the system knows it for the GTIN already; a lot "by rule" is taken from the line's rule when
the order is released. The line's edge agent shows the released orders of its line; the
operator's confirmation starts the batch, and the batch's reconciliation comes back to the
order at close, beside the plan.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, func, select, update

import gs1
from gs1.shelf_life import compute_expiry
from server import audit
from server.production import lots as lot_codes
from server.production import products
from server.production.errors import Conflict, ProductionError, Refused, Unknown
from server.production.tables import batch_orders
from server.store.schema import batches, units

STATES = ("created", "released", "started", "closed", "cancelled")


class Material(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gtin: str
    lot: Annotated[str, Field(min_length=1, max_length=20)]
    company_prefix_length: Annotated[int, Field(ge=6, le=12)]
    quantity: float | None = None
    uom: Annotated[str | None, Field(max_length=8)] = None

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str) -> str:
        return gs1.Gtin.parse(value, field="materials.gtin").value


class OrderIn(BaseModel):
    """An order as QA, a CSV row or MES gives it."""

    model_config = ConfigDict(extra="forbid")

    number: Annotated[str | None, Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")] = None
    gtin: str
    planned: Annotated[int, Field(ge=1, le=10_000_000)]
    lot: Annotated[str | None, Field(min_length=1, max_length=20)] = None  # None: by rule
    manufacturing_date: date | None = None  # default: today (UTC)
    expiry: Annotated[str | None, Field(pattern=r"^[0-9]{6}$")] = None  # YYMMDD override
    expiry_reason: Annotated[str | None, Field(min_length=3, max_length=2000)] = None
    materials: list[Material] = []
    site: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    line: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    release: bool = False

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str) -> str:
        return gs1.Gtin.parse(value).value

    @field_validator("lot")
    @classmethod
    def _lot(cls, value: str | None) -> str | None:
        return None if value is None else gs1.validate_cset82(value, field="lot")


def order_from(data: Any, *, where: str = "order") -> OrderIn:
    try:
        return OrderIn.model_validate(data)
    except ValidationError as exc:
        parts = []
        for error in exc.errors():
            location = ".".join(str(p) for p in error["loc"]) or where
            message = str(error["msg"]).removeprefix("Value error, ")
            parts.append(message if message.startswith(location) else f"{location}: {message}")
        raise Refused(f"{where}: " + "; ".join(parts)) from None


def create(
    conn: Connection, order: OrderIn, *, actor: str, source: str, now: datetime
) -> dict[str, Any]:
    """Record an order (audited); release it too when ``order.release``."""
    product = products.find(conn, order.gtin)
    if product is None or not product.active:
        raise Refused(f"gtin: expected an active product of the master data, got {order.gtin}")
    made = order.manufacturing_date or now.astimezone(UTC).date()
    computed = compute_expiry(made, product.shelf_life, product.rule).yymmdd()
    expiry = computed
    if order.expiry is not None and order.expiry != computed:
        try:
            gs1.Expiry.parse(order.expiry)
        except gs1.Gs1Error as exc:
            raise Refused(str(exc)) from None
        if order.expiry_reason is None:
            raise Refused(
                f"expiry: computed {computed} from manufacturing date {made.isoformat()} and a "
                f"shelf life of {product.shelf_life} ({product.expiry_rule}); {order.expiry} "
                "needs expiry_reason"
            )
        expiry = order.expiry
    number = order.number or _next_number(conn)
    if conn.execute(select(batch_orders.c.id).where(batch_orders.c.number == number)).first():
        raise Conflict(f"number: order {number!r} exists already")
    order_id = int(
        conn.execute(
            batch_orders.insert().returning(batch_orders.c.id),
            {
                "number": number,
                "gtin": order.gtin,
                "planned": order.planned,
                "lot": order.lot,
                "lot_source": "rule"
                if order.lot is None
                else ("mes" if source == "mes" else "manual"),
                "manufacturing_date": made.isoformat(),
                "expiry": expiry,
                "expiry_computed": computed,
                "expiry_reason": order.expiry_reason if expiry != computed else None,
                "materials": json.dumps([m.model_dump() for m in order.materials]),
                "site": order.site,
                "line": order.line,
                "state": "created",
                "created_at": now,
                "created_by": actor,
            },
        ).scalar_one()
    )
    if order.lot is not None:
        lot_codes.claim(
            conn,
            gtin=order.gtin,
            lot=order.lot,
            source="mes" if source == "mes" else "manual",
            site=order.site,
            line=order.line,
            actor=actor,
            now=now,
            order_id=order_id,
        )
    created = get(conn, order_id)
    audit.append(
        conn,
        actor=actor,
        action="order_create",
        entity="batch_order",
        entity_key=number,
        old_value=None,
        new_value={**_audited(created), "source": source},
        reason=order.expiry_reason
        if expiry != computed and order.expiry_reason
        else f"order from {source}",
        now=now,
    )
    if order.release:
        return release(conn, order_id, actor=actor, now=now)
    return created


def release(conn: Connection, order_id: int, *, actor: str, now: datetime) -> dict[str, Any]:
    """To the line: a lot by rule is taken now (on the manufacturing date)."""
    order = get(conn, order_id)
    _require(order, "created", "release")
    lot = order["lot"]
    if lot is None:
        lot = lot_codes.next_lot(
            conn,
            gtin=order["gtin"],
            site=order["site"],
            line=order["line"],
            moment=now,
            actor=actor,
            manufacturing_date=date.fromisoformat(order["manufacturing_date"]),
            order_id=order_id,
        )
    conn.execute(
        update(batch_orders)
        .where(batch_orders.c.id == order_id)
        .values(state="released", lot=lot, released_at=now, released_by=actor)
    )
    audit.append(
        conn,
        actor=actor,
        action="order_release",
        entity="batch_order",
        entity_key=order["number"],
        old_value={"state": "created", "lot": order["lot"]},
        new_value={"state": "released", "lot": lot, "line": f"{order['site']}/{order['line']}"},
        reason="released to the line",
        now=now,
    )
    return get(conn, order_id)


def expiry_override(
    conn: Connection,
    *,
    gtin: str,
    lot: str,
    expiry: str,
    computed: str,
    manufacturing_date: date,
    reason: str,
    site: str,
    line: str,
    now: datetime,
) -> None:
    """A line started a batch without an order with another expiry than the one its master
    data computes (the operator gave a reason): on the batch's audit trail (its history),
    keyed as the QA batch record is, ``(01){gtin}(10){lot}``."""
    for value in (expiry, computed):
        try:
            gs1.Expiry.parse(value)
        except gs1.Gs1Error as exc:
            raise Refused(str(exc)) from None
    if expiry == computed:
        raise Refused(f"expiry: expected another expiry than the computed {computed}, got it")
    audit.append(
        conn,
        actor=f"line:{site}/{line}",
        action="batch_expiry_override",
        entity="batch",
        entity_key=f"(01){gtin}(10){lot}",
        old_value={"expiry": computed},
        new_value={
            "expiry": expiry,
            "manufacturing_date": manufacturing_date.isoformat(),
            "line": f"{site}/{line}",
        },
        reason=reason,
        now=now,
    )


def cancel(
    conn: Connection, order_id: int, *, actor: str, reason: str, now: datetime
) -> dict[str, Any]:
    order = get(conn, order_id)
    if order["state"] not in ("created", "released"):
        raise Conflict(
            f"order {order['number']!r}: cannot cancel a {order['state']} order; expected "
            "created or released"
        )
    conn.execute(
        update(batch_orders).where(batch_orders.c.id == order_id).values(state="cancelled")
    )
    audit.append(
        conn,
        actor=actor,
        action="order_cancel",
        entity="batch_order",
        entity_key=order["number"],
        old_value={"state": order["state"]},
        new_value={"state": "cancelled"},
        reason=reason,
        now=now,
    )
    return get(conn, order_id)


def started(
    conn: Connection, order_id: int, *, site: str, line: str, operator: str, now: datetime
) -> dict[str, Any]:
    """The line's operator confirmed the order and its batch started (idempotent)."""
    order = _of_line(get(conn, order_id), site, line)
    if order["state"] == "started":
        return order
    _require(order, "released", "start")
    conn.execute(
        update(batch_orders)
        .where(batch_orders.c.id == order_id)
        .values(state="started", started_at=now, confirmed_by=operator[:64])
    )
    audit.append(
        conn,
        actor=f"line:{site}/{line}",
        action="order_start",
        entity="batch_order",
        entity_key=order["number"],
        old_value={"state": "released"},
        new_value={"state": "started", "confirmed_by": operator[:64]},
        reason="confirmed by the operator on the line",
        now=now,
    )
    return get(conn, order_id)


def closed(
    conn: Connection,
    order_id: int,
    *,
    site: str,
    line: str,
    reconciliation: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The batch of the order closed on the line, with its reconciliation (idempotent)."""
    order = _of_line(get(conn, order_id), site, line)
    if order["state"] == "closed":
        return order
    _require(order, "started", "close")
    conn.execute(
        update(batch_orders)
        .where(batch_orders.c.id == order_id)
        .values(state="closed", closed_at=now, reconciliation=json.dumps(reconciliation))
    )
    return get(conn, order_id)


def get(conn: Connection, order_id: int) -> dict[str, Any]:
    row = conn.execute(select(batch_orders).where(batch_orders.c.id == order_id)).first()
    if row is None:
        raise Unknown(f"order: no order with id {order_id}")
    return _order(row)


def listing(
    conn: Connection,
    *,
    site: str | None = None,
    line: str | None = None,
    states: tuple[str, ...] = (),
    limit: int = 200,
) -> list[dict[str, Any]]:
    query = select(batch_orders).order_by(batch_orders.c.id.desc()).limit(limit)
    if site is not None:
        query = query.where(batch_orders.c.site == site)
    if line is not None:
        query = query.where(batch_orders.c.line == line)
    if states:
        query = query.where(batch_orders.c.state.in_(states))
    return [_order(row) for row in conn.execute(query)]


def detail(conn: Connection, order_id: int) -> dict[str, Any]:
    """The order (the plan) beside what happened: the line's reconciliation at close and the
    units of its batch the trace server holds, by status."""
    order = get(conn, order_id)
    counts: dict[str, int] = {}
    if order["lot"] is not None:
        batch = conn.execute(
            select(batches.c.id).where(
                batches.c.gtin == order["gtin"], batches.c.lot == order["lot"]
            )
        ).first()
        if batch is not None:
            counts = {
                status: int(n)
                for status, n in conn.execute(
                    select(units.c.status, func.count())
                    .where(units.c.batch_id == batch.id)
                    .group_by(units.c.status)
                )
            }
    return {**order, "server_units": counts}


def from_csv(text: str, *, where: str = "csv") -> list[OrderIn]:
    """One order per row; header: number, gtin, planned, lot (empty: by rule),
    manufacturing_date, expiry, expiry_reason, site, line, release (materials are not in CSV:
    add them through the API)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    allowed = {"number", "gtin", "planned", "lot", "manufacturing_date", "expiry",
               "expiry_reason", "site", "line", "release"}  # fmt: skip
    names = set(reader.fieldnames or ())
    if not {"gtin", "planned", "site", "line"} <= names or names - allowed:
        raise Refused(
            f"header: expected gtin, planned, site, line and any of number, lot, "
            f"manufacturing_date, expiry, expiry_reason, release; got "
            f"{', '.join(reader.fieldnames or []) or 'nothing'}"
        )
    orders: list[OrderIn] = []
    problems: list[str] = []
    for number, row in enumerate(reader, start=2):
        data: dict[str, Any] = {k: v.strip() for k, v in row.items() if v and v.strip()}
        if "release" in data:
            data["release"] = data["release"].lower() in ("1", "true", "yes")
        try:
            orders.append(order_from(data, where=f"line {number}"))
        except (ProductionError, gs1.Gs1Error) as exc:
            problems.append(str(exc))
    if problems:
        raise Refused(f"import refused: {'; '.join(problems[:10])}", problems=problems)
    if not orders:
        raise Refused("import: expected at least one order, got none")
    return orders


def _require(order: dict[str, Any], state: str, action: str) -> None:
    if order["state"] != state:
        raise Conflict(
            f"order {order['number']!r}: cannot {action} a {order['state']} order; expected {state}"
        )


def _of_line(order: dict[str, Any], site: str, line: str) -> dict[str, Any]:
    if (order["site"], order["line"]) != (site, line):
        raise Unknown(f"order: no order {order['id']} for line {site}/{line}")
    return order


def _next_number(conn: Connection) -> str:
    top = conn.execute(select(func.max(batch_orders.c.id))).scalar() or 0
    return f"ORD-{int(top) + 1:06d}"


def _audited(order: dict[str, Any]) -> dict[str, Any]:
    keys = ("gtin", "planned", "lot", "lot_source", "manufacturing_date", "expiry",
            "expiry_computed", "site", "line", "state")  # fmt: skip
    return {k: order[k] for k in keys}


def _order(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["materials"] = json.loads(data["materials"])
    data["reconciliation"] = (
        None if data["reconciliation"] is None else json.loads(data["reconciliation"])
    )
    for key in ("created_at", "released_at", "started_at", "closed_at"):
        data[key] = None if data[key] is None else data[key].isoformat()
    data["id"] = int(data["id"])
    return data
