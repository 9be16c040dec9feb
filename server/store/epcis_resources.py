"""The EPCIS 2.0 REST resources beside events: capture jobs, named queries, subscriptions,
and the top-level collections (EPCs, business steps, locations, read points, dispositions)
read from the store's indexed columns. Pages are keyset (after the last key returned)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, select, update

from server.store.dialect import insert_ignore
from server.store.schema import (
    capture_jobs,
    event_epcs,
    events,
    named_queries,
    subscription_deliveries,
    subscriptions,
    unit_events,
    units,
)

CBV_BIZ_STEPS = [
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
]
CBV_DISPOSITIONS = [
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
]
EPC_ROLES = ("epc", "child", "parent", "input", "output")


def new_id() -> str:
    return secrets.token_hex(12)


# -- capture jobs ----------------------------------------------------------------------------


def save_capture_job(
    conn: Connection,
    *,
    created_at: datetime,
    finished_at: datetime,
    success: bool,
    behaviour: str,
    errors: list[dict[str, Any]],
    event_count: int,
    username: str | None,
) -> str:
    capture_id = new_id()
    conn.execute(
        capture_jobs.insert(),
        {
            "capture_id": capture_id,
            "created_at": created_at,
            "finished_at": finished_at,
            "running": 0,
            "success": 1 if success else 0,
            "error_behaviour": behaviour,
            "errors": json.dumps(errors),
            "event_count": event_count,
            "username": username,
        },
    )
    return capture_id


def capture_job_of(row: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "captureID": row.capture_id,
        "createdAt": _time(row.created_at),
        "running": bool(row.running),
        "success": bool(row.success),
        "captureErrorBehaviour": row.error_behaviour,
        "errors": json.loads(row.errors),
    }
    if row.finished_at is not None:
        job["finishedAt"] = _time(row.finished_at)
    return job


def capture_job(conn: Connection, capture_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(capture_jobs).where(capture_jobs.c.capture_id == capture_id)).first()
    return None if row is None else capture_job_of(row)


def capture_jobs_page(
    conn: Connection, *, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    rows = conn.execute(
        select(capture_jobs)
        .where(capture_jobs.c.id > after)
        .order_by(capture_jobs.c.id)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [capture_job_of(row) for row in rows], (int(rows[-1].id) if more and rows else None)


# -- named queries ---------------------------------------------------------------------------


def create_named_query(
    conn: Connection, name: str, query: dict[str, Any], *, now: datetime, username: str | None
) -> bool:
    """Store a named query; False if the name is taken."""
    inserted = conn.execute(
        insert_ignore(conn, named_queries).returning(named_queries.c.name),
        {"name": name, "query": json.dumps(query), "created_at": now, "username": username},
    ).first()
    return inserted is not None


def named_query(conn: Connection, name: str) -> dict[str, Any] | None:
    text = conn.execute(select(named_queries.c.query).where(named_queries.c.name == name)).scalar()
    return None if text is None else dict(json.loads(text))


def named_queries_page(
    conn: Connection, *, after: str, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    rows = conn.execute(
        select(named_queries.c.name, named_queries.c.query)
        .where(named_queries.c.name > after)
        .order_by(named_queries.c.name)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    page = [{"name": row.name, "query": json.loads(row.query)} for row in rows]
    return page, (rows[-1].name if more and rows else None)


def delete_named_query(conn: Connection, name: str) -> list[str]:
    """Delete a named query and its subscriptions; the ids of those subscriptions (None-like
    empty list if there was no such query is told apart by :func:`named_query` first)."""
    ids = list(
        conn.execute(select(subscriptions.c.id).where(subscriptions.c.query_name == name)).scalars()
    )
    for subscription_id in ids:
        delete_subscription(conn, subscription_id)
    conn.execute(delete(named_queries).where(named_queries.c.name == name))
    return ids


# -- subscriptions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    id: str
    query_name: str
    dest: str
    secret: str | None
    stream: bool
    schedule: dict[str, str] | None
    report_if_empty: bool
    initial_record_time: datetime
    min_record_time: datetime
    created_at: datetime
    last_notified_at: datetime | None
    last_run_at: datetime | None
    epc_format: str | None = None  # GS1-EPC-Format of the deliveries; None: as captured

    def public(self) -> dict[str, Any]:
        """The subscription as GET answers it (never its secret)."""
        shown: dict[str, Any] = {
            "subscriptionID": self.id,
            "queryName": self.query_name,
            "dest": self.dest,
            "createdAt": _time(self.created_at),
            "initialRecordTime": _time(self.initial_record_time),
            "minRecordTime": _time(self.min_record_time),
            "reportIfEmpty": self.report_if_empty,
        }
        if self.stream:
            shown["stream"] = True
        if self.schedule is not None:
            shown["schedule"] = self.schedule
        if self.last_notified_at is not None:
            shown["lastNotifiedAt"] = _time(self.last_notified_at)
        return shown


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        query_name=row.query_name,
        dest=row.dest,
        secret=row.secret,
        stream=bool(row.stream),
        schedule=json.loads(row.schedule) if row.schedule else None,
        report_if_empty=bool(row.report_if_empty),
        initial_record_time=row.initial_record_time,
        min_record_time=row.min_record_time,
        created_at=row.created_at,
        last_notified_at=row.last_notified_at,
        last_run_at=row.last_run_at,
        epc_format=row.epc_format,
    )


def create_subscription(conn: Connection, subscription: Subscription, username: str | None) -> None:
    conn.execute(
        subscriptions.insert(),
        {
            "id": subscription.id,
            "query_name": subscription.query_name,
            "dest": subscription.dest,
            "secret": subscription.secret,
            "stream": 1 if subscription.stream else 0,
            "schedule": json.dumps(subscription.schedule) if subscription.schedule else None,
            "report_if_empty": 1 if subscription.report_if_empty else 0,
            "initial_record_time": subscription.initial_record_time,
            "min_record_time": subscription.min_record_time,
            "created_at": subscription.created_at,
            "last_notified_at": None,
            "last_run_at": None,
            "username": username,
            "epc_format": subscription.epc_format,
        },
    )


def subscription(conn: Connection, query_name: str, subscription_id: str) -> Subscription | None:
    row = conn.execute(
        select(subscriptions).where(
            subscriptions.c.id == subscription_id, subscriptions.c.query_name == query_name
        )
    ).first()
    return None if row is None else _subscription(row)


def all_subscriptions(conn: Connection) -> list[Subscription]:
    return [
        _subscription(row)
        for row in conn.execute(select(subscriptions).order_by(subscriptions.c.id))
    ]


def subscriptions_page(
    conn: Connection, query_name: str, *, after: str, limit: int
) -> tuple[list[Subscription], str | None]:
    rows = conn.execute(
        select(subscriptions)
        .where(subscriptions.c.query_name == query_name, subscriptions.c.id > after)
        .order_by(subscriptions.c.id)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [_subscription(row) for row in rows], (rows[-1].id if more and rows else None)


def delete_subscription(conn: Connection, subscription_id: str) -> bool:
    deleted = conn.execute(
        delete(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .returning(subscriptions.c.id)
    ).first()
    conn.execute(
        delete(subscription_deliveries).where(
            subscription_deliveries.c.subscription_id == subscription_id
        )
    )
    return deleted is not None


def mark_run(
    conn: Connection,
    subscription_id: str,
    *,
    ran_at: datetime,
    notified: bool,
    min_record_time: datetime | None = None,
) -> None:
    values: dict[str, Any] = {"last_run_at": ran_at}
    if notified:
        values["last_notified_at"] = ran_at
    if min_record_time is not None:
        values["min_record_time"] = min_record_time
    conn.execute(
        update(subscriptions).where(subscriptions.c.id == subscription_id).values(**values)
    )


# -- top-level collections -------------------------------------------------------------------


def distinct_page(
    conn: Connection, column: Any, *, after: str, limit: int
) -> tuple[list[str], str | None]:
    """Distinct non-null values of an events column, in order, after ``after``."""
    rows = (
        conn.execute(
            select(column)
            .where(column.is_not(None), column > after)
            .distinct()
            .order_by(column)
            .limit(limit + 1)
        )
        .scalars()
        .all()
    )
    more = len(rows) > limit
    values = [str(value) for value in rows[:limit]]
    return values, (values[-1] if more and values else None)


def epcs_page(
    conn: Connection, *, after_unit: int, after_key: str, limit: int
) -> tuple[list[str], tuple[int, str] | None]:
    """The EPCs named by stored events: serialised units first (by unit id), then every other
    EPC (by key); as GS1 Digital Link URIs where the key is a GS1 key, else as received."""
    members: list[str] = []
    if after_key == "":
        unit_rows = conn.execute(
            select(units.c.id, units.c.gtin, units.c.serial)
            .where(
                units.c.id > after_unit,
                units.c.id.in_(select(unit_events.c.unit_id)),
            )
            .order_by(units.c.id)
            .limit(limit + 1)
        ).all()
        for row in unit_rows[:limit]:
            members.append(digital_link(f"(01){row.gtin}(21){row.serial}"))
        if len(unit_rows) > limit:
            return members, (int(unit_rows[limit - 1].id), "")
        after_unit = int(unit_rows[-1].id) if unit_rows else after_unit
    remaining = limit - len(members)
    keys = (
        conn.execute(
            select(event_epcs.c.epc)
            .where(event_epcs.c.role.in_(EPC_ROLES), event_epcs.c.epc > after_key)
            .distinct()
            .order_by(event_epcs.c.epc)
            .limit(remaining + 1)
        )
        .scalars()
        .all()
    )
    members += [digital_link(key) for key in keys[:remaining]]
    if len(keys) > remaining and remaining > 0:
        return members, (after_unit, keys[remaining - 1])
    return members, None


def digital_link(key: str) -> str:
    """A canonical key (``(01){gtin}(21){serial}``, ``(00){sscc}``, ``(01){gtin}(10){lot}``)
    as a GS1 Digital Link URI; any other key is already the URI it was received as."""
    if key.startswith("(00)") and len(key) == 22:
        return f"https://id.gs1.org/00/{key[4:]}"
    if key.startswith("(01)") and len(key) > 22 and key[18:22] in ("(21)", "(10)"):
        ai = key[19:21]
        return f"https://id.gs1.org/01/{key[4:18]}/{ai}/{quote(key[22:], safe='')}"
    return key


def event_exists(conn: Connection, column: Any, value: str) -> bool:
    return conn.execute(select(events.c.pk).where(column == value).limit(1)).first() is not None


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
